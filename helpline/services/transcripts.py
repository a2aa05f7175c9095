"""Offline transcript export for someone who holds a granted key.

`helpline transcript export` reads a staff device's private encryption key from a
file, finds the account that device is registered for, unlocks that account's
grants, and opens the conversation with the same checks every client makes. The
server's own data opens nothing: without a granted key the export is refused.
"""

from __future__ import annotations

from helpline.crypto.errors import CryptoError
from helpline.crypto.keyring import Decrypted, StaffKeyring, open_record, refused_record
from helpline.crypto.keys import EncryptionKeyPair, KeyKind, SigningKeyPair, fingerprint
from helpline.domain.audit import AuditAction
from helpline.domain.ids import ConversationId, is_conversation_id
from helpline.errors import Forbidden, NotFound
from helpline.services.audit import AuditLog
from helpline.services.keys import KeyService
from helpline.services.ports import SystemClock
from helpline.storage.redis_store import RedisStore

PAGE = 500


async def export_transcript(
    store: RedisStore, conversation_id: str, device_key: EncryptionKeyPair,
    pinned_fingerprint: str | None = None,
) -> tuple[str, list[Decrypted]]:
    """(the account the key belongs to, every message opened or refused with a code)."""
    if not is_conversation_id(conversation_id) or \
            await store.get_conversation(conversation_id) is None:
        raise NotFound("There is no such conversation.")
    cid = ConversationId(conversation_id)
    username = await _owner_of(store, device_key)
    if pinned_fingerprint is None:
        signing = await store.get_signing_key()
        if signing is None:
            raise NotFound("No signing key is published: run `helpline keys init`.")
        pinned_fingerprint = fingerprint(signing, KeyKind.ED25519)
    # Reading needs no signing key of our own; a throwaway one fills the slot.
    ring = StaffKeyring(username, pinned_fingerprint, device_key, SigningKeyPair.generate())
    keys = KeyService(store, None)
    try:
        ring.load_grants(await keys.keys_for(username))
        conversation_keys = await keys.keys_of_conversation(cid)
        if not ring.epoch_keys(cid, conversation_keys):
            raise Forbidden("No key granted to this device opens this conversation.")
        reader, names = ring.reader(cid, conversation_keys)
    except CryptoError as exc:
        raise Forbidden(f"The keys do not check out ({exc.code}).") from None
    # Who read which transcript is itself on the record (no content in the entry).
    await AuditLog(store, SystemClock()).record(username, "export", AuditAction.EXPORT, cid)
    out: list[Decrypted] = []
    after = 0
    while True:
        page = await store.read_messages(cid, after, PAGE)
        for envelope in page:
            wire = envelope.to_wire()
            try:
                out.append(open_record(reader, names, wire))
            except CryptoError as exc:
                out.append(refused_record(wire, exc.code))
        if len(page) < PAGE:
            return username, out
        after = page[-1].seq


async def _owner_of(store: RedisStore, device_key: EncryptionKeyPair) -> str:
    public = device_key.public.raw
    for member in await store.list_staff():
        if (await store.get_device(member.username)).get("encryption") == public:
            return member.username
    raise NotFound("No staff device is registered with this key.")
