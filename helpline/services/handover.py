"""Police handover: offer, the young person's signed yes or no, join, leave, withdraw.

The server's part is to refuse: no officer reaches a conversation without a consent
the young person's own conversation key signed, for this conversation and this
police key, unexpired and never used before. The keys are the clients' part: only
the young person's client can wrap an epoch key for the police unit, and only
after the consent is recorded (storage re-checks that at the moment of the wrap).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from helpline.crypto.consent import Consent, consent_from_wire, verify_consent
from helpline.crypto.errors import CryptoError
from helpline.crypto.keys import SigningPublicKey
from helpline.crypto.statements import key_statement_from_json
from helpline.domain.access import Action, StaffActor, YouthActor, check_access
from helpline.domain.audit import AuditAction
from helpline.domain.conversation import Conversation, State
from helpline.domain.handover import (
    CAN_END,
    CAN_EXPIRE,
    CAN_OFFER,
    CAN_WITHDRAW,
    ConsentTerms,
    Handover,
    check_consent_terms,
    consent_lapsed,
    offer_text,
)
from helpline.domain.ids import ConversationId
from helpline.domain.roles import Role
from helpline.errors import (
    ConsentInvalid,
    ConsentReplayed,
    Forbidden,
    InvalidPayload,
    InvalidState,
    NotFound,
)
from helpline.services.audit import AuditLog
from helpline.services.ports import Clock, Notifier
from helpline.storage.redis_store import ConsentReplay, HandoverConflict, RedisStore

ACTIVE = frozenset({State.ACTIVE})
# Fields cleared whenever a handover ends, so nothing of it lingers as live state.
CLEARED = {"police_officer": "", "police_offer": ""}


class HandoverService:
    def __init__(self, store: RedisStore, notifier: Notifier, clock: Clock,
                 audit: AuditLog) -> None:
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.audit = audit

    # -- counsellor -------------------------------------------------------------------

    async def offer(self, actor: StaffActor, conversation_id: ConversationId) -> dict[str, Any]:
        """Ask the young person whether the police may join; they get the key and words."""
        conv = await self._load(conversation_id)
        # the holder, while active
        check_access(actor, conv, Action.SEND, now=self.clock.now_ms() // 1000)
        police = await self.store.get_police_statement()
        if police is None:
            raise InvalidState("No police unit key is published: the admin runs "
                               "`helpline keys police-import`.")
        offer_id = secrets.token_urlsafe(12)
        await self._change(conversation_id, states=ACTIVE, handovers=CAN_OFFER,
                           check=("counsellor", actor.username), fields={
                               "handover": Handover.OFFERED.value, "police_offer": offer_id,
                               "police_officer": "", "police_epoch": "",
                               "police_from_seq": "", "police_share": "0",
                               "police_consent": ""})
        await self.notifier.to_youth(conversation_id, "handover_offer", {
            "conversation_id": conversation_id, "offer_id": offer_id,
            "police": json.loads(police), "text": offer_text(conv.language)})
        await self._tell_staff(conv, Handover.OFFERED)
        await self.audit.record(actor.username, actor.role.value, AuditAction.HANDOVER_OFFER,
                                conversation_id)
        return {"offer_id": offer_id, "handover": Handover.OFFERED.value}

    async def end(self, actor: StaffActor, conversation_id: ConversationId) -> dict[str, Any]:
        """The counsellor ends the police part; an officer who joined is out at once."""
        conv = await self._load(conversation_id)
        check_access(actor, conv, Action.READ, now=self.clock.now_ms() // 1000)  # the holder
        await self._change(conversation_id, states=None, handovers=CAN_END,
                           check=("counsellor", actor.username),
                           fields={"handover": Handover.ENDED.value, **CLEARED})
        await self._tell_everyone(conv, Handover.ENDED)
        await self.audit.record(actor.username, actor.role.value, AuditAction.POLICE_ENDED,
                                conversation_id)
        await self._requests_changed()
        return {"handover": Handover.ENDED.value}

    # -- young person -----------------------------------------------------------------

    async def answer(self, actor: YouthActor, conversation_id: ConversationId, offer_id: str,
                     accept: bool, consent: dict[str, Any] | None) -> dict[str, Any]:
        """No: declined. Yes: only with a consent this conversation's key signed."""
        conv = await self._load(conversation_id)
        check_access(actor, conv, Action.SEND, now=self.clock.now_ms() // 1000)
        if not accept:
            await self._change(conversation_id, states=None, handovers={Handover.OFFERED},
                               check=("police_offer", offer_id),
                               fields={"handover": Handover.DECLINED.value, **CLEARED})
            await self._tell_staff(conv, Handover.DECLINED)
            await self.audit.record("youth", "youth", AuditAction.CONSENT_DECLINED,
                                    conversation_id)
            return {"handover": Handover.DECLINED.value}
        if consent is None:
            raise InvalidPayload("A yes needs the signed consent.")
        signed = await self._verified_consent(conversation_id, consent)
        try:
            await self._change(
                conversation_id, states=ACTIVE, handovers={Handover.OFFERED},
                check=("police_offer", offer_id), nonce=signed.nonce.hex(), fields={
                    "handover": Handover.CONSENTED.value, "police_offer": "",
                    # From now on the police retention applies, and "delete now" waits.
                    "police_involved": "1",
                    "police_share": "1" if signed.share_history else "0",
                    "police_expires": signed.expires_at,
                    "police_consent": json.dumps(signed.to_wire(), sort_keys=True)})
        except ConsentReplay:
            raise ConsentReplayed() from None
        await self._tell_staff(conv, Handover.CONSENTED, share_history=signed.share_history)
        await self.audit.record("youth", "youth", AuditAction.CONSENT_GIVEN, conversation_id,
                                {"share_history": signed.share_history,
                                 "expires_at": signed.expires_at})
        # Police hear of it only once the young person's client has wrapped a key for
        # them (KeyService.start_epoch): before that there is nothing to join.
        return {"handover": Handover.CONSENTED.value}

    async def withdraw(self, actor: YouthActor, conversation_id: ConversationId
                       ) -> dict[str, Any]:
        """The young person takes the yes back: any officer is removed at once."""
        conv = await self._load(conversation_id)
        check_access(actor, conv, Action.READ, now=self.clock.now_ms() // 1000)
        await self._change(conversation_id, states=None, handovers=CAN_WITHDRAW,
                           fields={"handover": Handover.WITHDRAWN.value, **CLEARED})
        await self._tell_everyone(conv, Handover.WITHDRAWN)
        await self.audit.record("youth", "youth", AuditAction.CONSENT_WITHDRAWN,
                                conversation_id)
        await self._requests_changed()
        return {"handover": Handover.WITHDRAWN.value}

    # -- police -------------------------------------------------------------------------

    async def requests(self, actor: StaffActor) -> list[dict[str, Any]]:
        """Handovers an officer may join: consented, keyed for the police, unexpired."""
        if actor.role is not Role.POLICE:
            raise Forbidden()
        now = self.clock.now_ms() // 1000
        out = []
        for conv in await self.store.list_conversations_with_handover(
                Handover.CONSENTED.value):
            if conv.police_epoch is None or not self._consent_current(conv, now):
                continue
            out.append({"conversation_id": conv.id, "language": conv.language,
                        "share_history": conv.police_share_history,
                        "state": conv.state.value})
        return out

    async def join(self, actor: StaffActor, conversation_id: ConversationId) -> dict[str, Any]:
        if actor.role is not Role.POLICE:
            raise Forbidden()
        conv = await self.store.get_conversation(conversation_id)
        # Without a current consent the conversation does not exist for the police.
        if conv is None or conv.handover is not Handover.CONSENTED \
                or conv.police_epoch is None \
                or not self._consent_current(conv, self.clock.now_ms() // 1000):
            raise NotFound()
        try:
            await self.store.change_handover(
                conversation_id, states=ACTIVE, handovers={Handover.CONSENTED.value},
                participant=actor.username,
                fields={"handover": Handover.JOINED.value, "police_officer": actor.username})
        except (HandoverConflict, InvalidState):
            raise NotFound() from None
        joined = await self._load(conversation_id)
        await self._tell_everyone(joined, Handover.JOINED)
        await self.audit.record(actor.username, actor.role.value, AuditAction.POLICE_JOIN,
                                conversation_id)
        await self._requests_changed()
        return {"conversation": joined.summary(self.clock.now_ms())}

    async def leave(self, actor: StaffActor, conversation_id: ConversationId
                    ) -> dict[str, Any]:
        conv = await self.store.get_conversation(conversation_id)
        # the joined officer only
        check_access(actor, conv, Action.READ, now=self.clock.now_ms() // 1000)
        assert conv is not None
        await self._change(conversation_id, states=None, handovers={Handover.JOINED},
                           check=("police_officer", actor.username),
                           fields={"handover": Handover.LEFT.value, **CLEARED})
        await self._tell_everyone(conv, Handover.LEFT)
        await self.audit.record(actor.username, actor.role.value, AuditAction.POLICE_LEAVE,
                                conversation_id)
        return {"handover": Handover.LEFT.value}

    # -- consent expiry -------------------------------------------------------------------

    async def lapse_if_expired(self, conversation_id: ConversationId) -> bool:
        """End the police part if its consent has expired; True if it ended now.

        Called by the job and before every officer event, so an officer is out at the
        consent's expiry even between two job runs. Everyone is told; the young
        person's client then starts a team-only epoch (the police key gets nothing
        from there on).
        """
        conv = await self.store.get_conversation(conversation_id)
        now = self.clock.now_ms() // 1000
        if conv is None or not consent_lapsed(conv.handover, conv.police_expires, now):
            return False
        try:
            await self.store.change_handover(
                conversation_id, states=None, handovers={h.value for h in CAN_EXPIRE},
                check=("police_expires", str(conv.police_expires or "")),
                fields={"handover": Handover.EXPIRED.value, **CLEARED})
        except (HandoverConflict, InvalidState, NotFound):
            return False  # withdrawn, ended or renewed meanwhile: nothing to expire
        await self._tell_everyone(conv, Handover.EXPIRED)
        await self.audit.record("system", "system", AuditAction.CONSENT_EXPIRED,
                                conversation_id)
        await self._requests_changed()
        return True

    async def expire_lapsed(self) -> int:
        """The job: end every police part whose consent has expired; returns how many."""
        ended = 0
        for conv in await self.store.list_conversations_with_handover(
                *(state.value for state in CAN_EXPIRE)):
            if await self.lapse_if_expired(conv.id):
                ended += 1
        return ended

    # -- helpers ------------------------------------------------------------------------

    async def _verified_consent(self, conversation_id: ConversationId,
                                wire: dict[str, Any]) -> Consent:
        try:
            signed = consent_from_wire(conversation_id, wire)
        except CryptoError:
            raise InvalidPayload("The consent is not in the expected form.") from None
        police_text = await self.store.get_police_statement()
        police_fp = (key_statement_from_json(police_text).statement.public_key.fingerprint
                     if police_text else None)
        youth_key, _, _ = await self.store.get_conversation_keys(conversation_id)
        if police_fp is None or youth_key is None:
            raise ConsentInvalid()
        check_consent_terms(ConsentTerms(conversation_id, signed.police_fingerprint,
                                         signed.expires_at),
                            conversation_id, police_fp, self.clock.now_ms() // 1000)
        try:
            verify_consent(signed, SigningPublicKey(youth_key))
        except CryptoError:
            raise ConsentInvalid("The consent is not signed by this conversation's key.") \
                from None
        return signed

    @staticmethod
    def _consent_current(conv: Conversation, now: int) -> bool:
        return conv.police_expires is not None and conv.police_expires > now

    async def _change(self, conversation_id: ConversationId, *, states: frozenset[State] | None,
                      handovers: frozenset[Handover] | set[Handover],
                      fields: dict[str, str | int], check: tuple[str, str] | None = None,
                      nonce: str | None = None) -> None:
        try:
            await self.store.change_handover(
                conversation_id, states=states, handovers={h.value for h in handovers},
                fields=fields, check=check, nonce=nonce)
        except HandoverConflict as exc:
            raise InvalidState(f"Not possible while the police handover is {exc.current}.") \
                from None

    async def _tell_staff(self, conv: Conversation, state: Handover, **extra: Any) -> None:
        if conv.counsellor:
            await self.notifier.to_staff(conv.counsellor, "handover", {
                "conversation_id": conv.id, "handover": state.value, **extra})
        # The summary's `handover` changed. Handover steps are rare, so not coalesced.
        await self.notifier.to_overview_watchers("overview", {"changed": [conv.id]})

    async def _tell_everyone(self, conv: Conversation, state: Handover) -> None:
        data = {"conversation_id": conv.id, "handover": state.value}
        await self.notifier.to_youth(conv.id, "handover", data)
        await self._tell_staff(conv, state)
        if conv.police_officer:
            await self.notifier.to_staff(conv.police_officer, "handover", data)

    async def _requests_changed(self) -> None:
        await self.notifier.to_police("handover_requests", {})

    async def _load(self, conversation_id: str) -> Conversation:
        conv = await self.store.get_conversation(conversation_id)
        if conv is None:
            raise NotFound()
        return conv
