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

from helpline.crypto.errors import CryptoError
from helpline.crypto.keys import EncryptionPublicKey, SigningPublicKey
from helpline.crypto.statements import key_statement_from_json
from helpline.domain.access import Action, StaffActor, YouthActor, check_access
from helpline.domain.conversation import CHAT_OPEN
from helpline.domain.ids import ConversationId
from helpline.errors import InvalidPayload
from helpline.services.ports import Notifier
from helpline.storage.redis_store import RedisStore

MAX_WRAPS_PER_EPOCH = 8


class KeyService:
    def __init__(self, store: RedisStore, notifier: Notifier | None) -> None:
        self.store = store
        self.notifier = notifier

    async def directory(self) -> dict[str, Any]:
        """The signed statements a client needs to encrypt: current team key, police key."""
        period = await self.store.get_current_period()
        statements = await self.store.get_team_statements()
        police = await self.store.get_police_statement()
        return {
            "team_period": period,
            "team": json.loads(statements[period]) if period in statements else None,
            "police": json.loads(police) if police else None,
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
        }

    async def start_epoch(
        self, actor: YouthActor, conversation_id: ConversationId, epoch: int,
        youth_key: bytes | None, wraps: list[tuple[str, bytes]],
    ) -> None:
        """Store the wraps of the young person's next epoch key and tell the counsellor."""
        conv = await self.store.get_conversation(conversation_id)
        check_access(actor, conv, Action.SEND)
        assert conv is not None
        if not 1 <= len(wraps) <= MAX_WRAPS_PER_EPOCH:
            raise InvalidPayload(f"Send 1 to {MAX_WRAPS_PER_EPOCH} wraps.")
        if youth_key is not None:
            try:
                SigningPublicKey(youth_key)
            except CryptoError:
                raise InvalidPayload("signing_key must be an Ed25519 public key.") from None
        known = await self._recipient_fingerprints()
        for recipient, _ in wraps:
            if recipient not in known:
                raise InvalidPayload("A wrap names a key that is not a published key.")
        await self.store.set_epoch(conversation_id, CHAT_OPEN, epoch, youth_key, wraps)
        if conv.counsellor and self.notifier is not None:
            await self.notifier.to_staff(conv.counsellor, "epoch",
                                         {"conversation_id": conversation_id, "epoch": epoch})

    async def conversation_keys(
        self, actor: YouthActor | StaffActor, conversation_id: ConversationId
    ) -> dict[str, Any]:
        """The wraps, the young person's signing key and the staff statements of a chat."""
        conv = await self.store.get_conversation(conversation_id)
        check_access(actor, conv, Action.READ)
        return await self.keys_of_conversation(conversation_id)

    async def keys_of_conversation(self, conversation_id: ConversationId) -> dict[str, Any]:
        youth_key, epoch, wraps = await self.store.get_conversation_keys(conversation_id)
        staff = []
        for username in await self.store.list_participants(conversation_id):
            for text in (await self.store.get_staff_statements(username)).values():
                staff.append(json.loads(text))
        return {
            "conversation_id": conversation_id,
            "youth_signing_key": youth_key,
            "epoch": epoch,
            "wraps": [{"epoch": e, "recipient": r, "wrap": w} for e, r, w in wraps],
            "staff": staff,
        }

    async def _recipient_fingerprints(self) -> set[str]:
        # Team keys only: wrapping for the police unit needs the young person's
        # consent, which the handover work adds.
        texts = list((await self.store.get_team_statements()).values())
        out = set()
        for text in texts:
            try:
                out.add(key_statement_from_json(text).statement.public_key.fingerprint)
            except CryptoError:
                continue
        return out

