"""End-to-end key material as the running server sees it: public keys and wraps only.

The server never holds a private key. It hands out the organisation-signed key
statements (clients verify them against the signing-key fingerprint they pin),
stores each staff device's public keys and the grants `helpline keys grant` made
for them, and stores each conversation's epoch-key wraps, made by the young
person's own client. It checks shapes and sequence, not secrets: a server that
lied here would be caught by the clients' signature checks.
"""

from __future__ import annotations

import json
from typing import Any

from helpline.crypto.epochs import ReaderKind, epoch_statement_from_wire, verify_epoch_statement
from helpline.crypto.errors import CryptoError
from helpline.crypto.keys import EncryptionPublicKey, SigningPublicKey
from helpline.crypto.statements import key_statement_from_json
from helpline.domain.access import Action, StaffActor, YouthActor, check_access
from helpline.domain.audit import AuditAction
from helpline.domain.conversation import CHAT_OPEN
from helpline.domain.handover import POLICE_MAY_BE_WRAPPED
from helpline.domain.ids import ConversationId
from helpline.domain.roles import Role
from helpline.errors import ConsentExpired, EpochInvalid, Forbidden, InvalidPayload
from helpline.services.audit import AuditLog
from helpline.services.conversations import staff_readers
from helpline.services.ports import Clock, Notifier, SystemClock
from helpline.storage.redis_store import HandoverConflict, RedisStore

MAX_WRAPS_PER_EPOCH = 8


class KeyService:
    def __init__(self, store: RedisStore, notifier: Notifier | None,
                 audit: AuditLog | None = None, clock: Clock | None = None) -> None:
        self.store = store
        self.notifier = notifier
        self.clock = clock or SystemClock()
        # None only for offline tools (transcript export) that audit on their own.
        self.audit = audit

    async def directory(self) -> dict[str, Any]:
        """The signed statements a client needs to encrypt: current team key, police key."""
        period = await self.store.get_current_period()
        statements = await self.store.get_team_statements()
        police = await self.store.get_police_statement()
        revocations = await self.store.get_revocations()
        return {
            "team_period": period,
            "team": json.loads(statements[period]) if period in statements else None,
            "police": json.loads(police) if police else None,
            # Clients verify it and never accept a lower serial than one seen before.
            "revocations": json.loads(revocations) if revocations else None,
        }

    async def register_device(
        self, actor: StaffActor, encryption_key: bytes, signing_key: bytes
    ) -> dict[str, str]:
        """Store this staff member's device public keys; grants must then be made anew."""
        try:
            enc = EncryptionPublicKey(encryption_key)
            sig = SigningPublicKey(signing_key)
        except CryptoError:
            raise InvalidPayload("Keys must be 32-byte X25519 and Ed25519 public keys.") from None
        current = await self.store.get_device(actor.username)
        if current.get("encryption") == encryption_key and current.get("signing") == signing_key:
            return {"encryption_fingerprint": enc.fingerprint,
                    "signing_fingerprint": sig.fingerprint, "changed": "no"}
        await self.store.set_device(actor.username, encryption_key, signing_key)
        if self.audit is not None:
            await self.audit.record(actor.username, actor.role.value,
                                    AuditAction.DEVICE_REGISTERED, None,
                                    {"encryption_fingerprint": enc.fingerprint,
                                     "signing_fingerprint": sig.fingerprint})
        return {"encryption_fingerprint": enc.fingerprint, "signing_fingerprint": sig.fingerprint,
                "changed": "yes"}

    async def my_keys(self, actor: StaffActor) -> dict[str, Any]:
        """Everything a staff client needs to unlock its grants, and the statements."""
        return await self.keys_for(actor.username)

    async def keys_for(self, username: str) -> dict[str, Any]:
        device = await self.store.get_device(username)
        statements = await self.store.get_team_statements()
        police = await self.store.get_police_statement()
        mine = await self.store.get_staff_statements(username)
        revocations = await self.store.get_revocations()
        return {
            "device": {
                "encryption_key": device.get("encryption"),
                "signing_key": device.get("signing"),
                "statements": [json.loads(text) for text in mine.values()],
            },
            "grants": await self.store.get_grants(username),
            "team": {period: json.loads(text) for period, text in statements.items()},
            "team_period": await self.store.get_current_period(),
            "police": json.loads(police) if police else None,
            "revocations": json.loads(revocations) if revocations else None,
        }

    async def start_epoch(
        self, actor: YouthActor, conversation_id: ConversationId, epoch: int,
        youth_key: bytes | None, wraps: list[tuple[str, bytes]],
        statement_wire: dict[str, Any],
    ) -> None:
        """Store the young person's next epoch (its signed statement and wraps) and tell
        the staff who read it.

        The clients do not trust this check (they verify the statement themselves);
        it keeps a broken or hostile client from storing an epoch no one could use:
        the statement must be signed by the conversation's key (sent with epoch 1),
        name exactly the keys wrapped for, only published ones, and the police only
        with the consent recorded for this conversation, unexpired.
        """
        conv = await self.store.get_conversation(conversation_id)
        check_access(actor, conv, Action.SEND)
        assert conv is not None
        if not 1 <= len(wraps) <= MAX_WRAPS_PER_EPOCH:
            raise InvalidPayload(f"Send 1 to {MAX_WRAPS_PER_EPOCH} wraps.")
        if (epoch == 1) != (youth_key is not None):
            raise InvalidPayload("signing_key comes with epoch 1, and only then.")
        stored_key, _, _ = await self.store.get_conversation_keys(conversation_id)
        signer = youth_key if epoch == 1 else stored_key
        if signer is None:
            raise InvalidPayload("Epoch 1, with the signing_key, comes first.")
        try:
            statement = verify_epoch_statement(
                epoch_statement_from_wire(conversation_id,
                                          {"consent": None, **statement_wire}),
                SigningPublicKey(signer), conversation_id=conversation_id, epoch=epoch)
        except CryptoError as exc:
            raise EpochInvalid(f"The epoch statement is refused: {exc.code}.") from None
        recipients = [recipient for recipient, _ in wraps]
        if sorted(recipients) != sorted(r.fingerprint for r in statement.readers):
            raise EpochInvalid("The wraps must be for exactly the statement's readers.")
        team = await self._team_fingerprints()
        police = await self._police_fingerprint()
        for reader in statement.readers:
            if reader.kind is ReaderKind.TEAM and reader.fingerprint not in team:
                raise InvalidPayload("A wrap names a key that is not a published key.")
            if reader.kind is ReaderKind.POLICE and reader.fingerprint != police:
                raise InvalidPayload("A wrap names a key that is not a published key.")
        police_wrap = statement.consent is not None
        if statement.consent is not None:
            # Only after a signed consent, the very one recorded; storage re-checks the
            # handover state atomically.
            now = self.clock.now_ms() // 1000
            recorded = json.loads(conv.police_consent) if conv.police_consent else None
            if conv.handover not in POLICE_MAY_BE_WRAPPED \
                    or recorded != statement.consent.to_wire():
                raise Forbidden("The police may be added only after your consent.")
            if statement.consent.expires_at <= now:
                raise ConsentExpired()
        try:
            await self.store.set_epoch(conversation_id, CHAT_OPEN, epoch, youth_key, wraps,
                                       json.dumps(statement.to_wire(), sort_keys=True),
                                       police_wrap=police_wrap)
        except HandoverConflict:
            raise Forbidden("The police may be added only after your consent.") from None
        if self.notifier is not None and police_wrap:
            await self.notifier.to_police("handover_requests", {})
        if self.notifier is not None:
            for username in staff_readers(conv):
                await self.notifier.to_staff(username, "epoch",
                                             {"conversation_id": conversation_id,
                                              "epoch": epoch})

    async def share_history(self, actor: YouthActor, conversation_id: ConversationId,
                            wraps: list[tuple[int, str, bytes]]) -> None:
        """Wraps of earlier epoch keys for the police, if the consent shares history."""
        conv = await self.store.get_conversation(conversation_id)
        check_access(actor, conv, Action.READ)
        assert conv is not None
        police = await self._police_fingerprint()
        if not conv.police_share_history or conv.police_epoch is None or police is None:
            raise Forbidden("Your consent does not share earlier messages.")
        for epoch, recipient, _ in wraps:
            if recipient != police or not 1 <= epoch < conv.police_epoch:
                raise InvalidPayload("History wraps are for the police key and earlier epochs.")
        try:
            await self.store.share_history_wraps(conversation_id, wraps)
        except HandoverConflict:
            raise Forbidden("Your consent does not share earlier messages.") from None

    async def store_code_wrap(self, actor: YouthActor, conversation_id: ConversationId,
                              blob: bytes) -> None:
        """Keep the young person's keys wrapped under their return code (opaque here)."""
        check_access(actor, await self.store.get_conversation(conversation_id), Action.SEND)
        await self.store.set_code_wrap(conversation_id, blob)

    async def code_wrap(self, actor: YouthActor, conversation_id: ConversationId
                        ) -> bytes | None:
        check_access(actor, await self.store.get_conversation(conversation_id), Action.READ)
        return await self.store.get_code_wrap(conversation_id)

    async def conversation_keys(
        self, actor: YouthActor | StaffActor, conversation_id: ConversationId
    ) -> dict[str, Any]:
        """The wraps, the young person's signing key and the staff statements of a chat."""
        conv = await self.store.get_conversation(conversation_id)
        check_access(actor, conv, Action.READ, now=self.clock.now_ms() // 1000)
        if isinstance(actor, StaffActor) and self.audit is not None:
            await self.audit.record_read(actor.username, actor.role.value,
                                         AuditAction.READ_KEYS, conversation_id)
        keys = await self.keys_of_conversation(conversation_id)
        if isinstance(actor, StaffActor) and actor.role is Role.POLICE:
            # An officer is shown only what was wrapped for the police unit.
            police = await self._police_fingerprint()
            keys["wraps"] = [w for w in keys["wraps"] if w["recipient"] == police]
        return keys

    async def keys_of_conversation(self, conversation_id: ConversationId) -> dict[str, Any]:
        youth_key, epoch, wraps = await self.store.get_conversation_keys(conversation_id)
        revocations = await self.store.get_revocations()
        staff = []
        for username in await self.store.list_participants(conversation_id):
            for text in (await self.store.get_staff_statements(username)).values():
                staff.append(json.loads(text))
        return {
            "conversation_id": conversation_id,
            "youth_signing_key": youth_key,
            "epoch": epoch,
            "wraps": [{"epoch": e, "recipient": r, "wrap": w} for e, r, w in wraps],
            # Each epoch as the young person signed it: who reads it, which key.
            "statements": [json.loads(text) for text in
                           await self.store.get_epoch_statements(conversation_id)],
            "staff": staff,
            # Readers refuse messages of a revoked staff key from its revocation on.
            "revocations": json.loads(revocations) if revocations else None,
        }

    async def _team_fingerprints(self) -> set[str]:
        out = set()
        for text in (await self.store.get_team_statements()).values():
            try:
                out.add(key_statement_from_json(text).statement.public_key.fingerprint)
            except CryptoError:
                continue
        return out

    async def _police_fingerprint(self) -> str | None:
        text = await self.store.get_police_statement()
        if text is None:
            return None
        return key_statement_from_json(text).statement.public_key.fingerprint
