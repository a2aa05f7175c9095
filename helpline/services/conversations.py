"""The conversation loop: open, resume, accept, chat, end, wrap up, reassign.

Every use case follows one shape: load the conversation, let the domain decide
(`check_access`), make the change through the store (which re-checks atomically),
then tell exactly the people concerned through the notifier. This module is the one
place that decides who is told what about a conversation.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from helpline.domain.access import Action, Actor, StaffActor, YouthActor, check_access
from helpline.domain.audit import AuditAction
from helpline.domain.conversation import CHAT_OPEN, Conversation, State
from helpline.domain.handover import Handover
from helpline.domain.ids import (
    ConversationId,
    Username,
    is_conversation_id,
    new_conversation_id,
    new_secret,
    secret_hash,
)
from helpline.domain.messages import Envelope
from helpline.domain.retention import DAY_MS, RetentionPolicy
from helpline.domain.roles import CHAT_ROLES, OVERVIEW_ROLES, QUEUE_ROLES, Role, SenderRole
from helpline.domain.wrapup import WrapUp
from helpline.errors import (
    AlreadyTaken,
    Forbidden,
    InvalidState,
    NotFound,
    Reserved,
)
from helpline.services.audit import AuditLog
from helpline.services.coalesce import Coalesced
from helpline.services.ports import Clock, Notifier
from helpline.storage.message_store import SendRefused
from helpline.storage.redis_store import RedisStore, StateConflict

ACTIVE_ONLY = frozenset({State.ACTIVE})
LIVE = frozenset(State) - {State.CLOSED}  # what the overview lists


@dataclass(frozen=True)
class ConversationPolicy:
    max_conversations_per_counsellor: int
    history_page_size: int
    language_hold_ms: int = 60_000
    overview_push_interval_s: float = 1.0
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)

    @property
    def retention_ms(self) -> tuple[int, int]:
        return (self.retention.days * DAY_MS, self.retention.police_days * DAY_MS)


@dataclass(frozen=True)
class Opened:
    conversation: Conversation
    resume_token: str
    position: int
    queue_length: int


@dataclass(frozen=True)
class History:
    messages: list[Envelope]
    last_seq: int
    more: bool
    first_seq: int = 1  # the first seq this reader may see (later for police)


# A page of history must fit one socket frame (HELPLINE_MAX_FRAME_BYTES, 64 KiB by
# default) for every client: bodies travel as base64url text (4/3 of their size) with
# about 120 bytes of fields each. A page holds as many messages as fit in this budget,
# at least one (a body is at most HELPLINE_MAX_BODY_BYTES, well under it); `more`
# says when to ask for the next page.
PAGE_BYTES = 44 * 1024  # leaves room for a resume_code answer's code wrap (at most 11 KB)
MESSAGE_FIELD_BYTES = 120


def fit_page(messages: list[Envelope]) -> list[Envelope]:
    """The longest prefix of `messages` whose wire size fits PAGE_BYTES (at least one)."""
    used = 0
    for i, message in enumerate(messages):
        used += (4 * len(message.body) + 2) // 3 + MESSAGE_FIELD_BYTES
        if used > PAGE_BYTES and i > 0:
            return messages[:i]
    return messages


class ConversationService:
    def __init__(
        self, store: RedisStore, notifier: Notifier, clock: Clock, policy: ConversationPolicy,
        audit: AuditLog,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.policy = policy
        self.audit = audit
        # The overview is every live conversation: pushed at a bounded rate, so an
        # open or an accept does not cost a read of all of them (issue 11).
        self._push_overview = Coalesced(self._push_overview_changes,
                                        policy.overview_push_interval_s)
        self._overview_dirty: set[ConversationId] = set()

    async def close(self) -> None:
        await self._push_overview.close()

    # -- young person ---------------------------------------------------------------

    async def open(self, language: str | None, state: State = State.QUEUED,
                   campaign: str | None = None) -> Opened:
        """A new anonymous conversation, straight into the queue (see announce_opened).

        The resume token is `<conversation id>.<secret>`; only the secret's hash is
        stored, so a Redis dump cannot be used to take over a conversation.
        """
        cid = new_conversation_id()
        secret = new_secret()
        await self.store.create_conversation(cid, secret_hash(secret), self.clock.now_ms(),
                                             language, state, campaign)
        conversation = await self._load(cid)
        position, length = await self.queue_position(cid)
        return Opened(conversation, f"{cid}.{secret}", position, length)

    async def announce_joined(self, conversation_id: ConversationId) -> None:
        """One conversation joined the queue (its `open`, or the end of its intake):
        queue watchers get it as `joined`; it and those behind it get their place.
        Called once the new connection is bound to its conversation, so it misses
        nothing that follows."""
        rank, _length, score = await self.store.get_queue_place(conversation_id)
        if rank is None or score is None:
            await self._queue_changed(None, also=[conversation_id])
            return
        entries = await self._queue_entries([(conversation_id, score)],
                                            first_position=rank + 1)
        await self._queue_changed(rank, joined=[conversation_id], entries=entries)

    async def announce_released(self, conversation_ids: Sequence[ConversationId]) -> None:
        """Several joined at once (`offline` ones when the helpline opened)."""
        await self._queue_changed(0, joined=conversation_ids)

    async def announce_left(self, conversation_ids: Sequence[ConversationId]) -> None:
        """A job pass closed or purged these (some may have been queued)."""
        await self._queue_changed(0 if conversation_ids else None, left=conversation_ids)

    async def announce_live_changed(self, conversation_id: ConversationId) -> None:
        """A live conversation changed without changing the queue (an invite opening)."""
        await self._overview_changed([conversation_id])

    async def resume(self, resume_token: str) -> Conversation:
        """The conversation a resume token belongs to; `NotFound` for any bad token."""
        cid, _, secret = resume_token.partition(".")
        if not is_conversation_id(cid) or not secret:
            raise NotFound()
        stored = await self.store.get_resume_hash(cid)
        if stored is None or not hmac.compare_digest(stored, secret_hash(secret)):
            raise NotFound()
        return await self._load(cid)

    async def new_resume_token(self, conversation_id: ConversationId) -> str:
        """Replace the resume token (coming back with a return code on a new device)."""
        secret = new_secret()
        await self.store.set_resume_hash(conversation_id, secret_hash(secret))
        return f"{conversation_id}.{secret}"

    async def queue_position(self, conversation_id: ConversationId) -> tuple[int, int]:
        """(place in the queue, 1 = next, 0 = not queued; queue length): a rank, not a
        scan of the queue."""
        rank, length = await self.store.get_queue_rank(conversation_id)
        return (0 if rank is None else rank + 1), length

    async def youth_bound(self, conversation_id: ConversationId) -> None:
        """A young person's connection now belongs to the conversation (open, resume)."""
        await self.store.count_youth_connection(conversation_id, 1)

    async def youth_online(self, conversation_id: ConversationId, online: bool) -> None:
        """Tell the counsellor whether the young person is connected right now (a
        disconnect also ends the connection's count)."""
        if not online:
            await self.store.count_youth_connection(conversation_id, -1)
        conv = await self.store.get_conversation(conversation_id)
        if conv is not None and conv.state is State.ACTIVE:
            for username in staff_readers(conv):
                await self.notifier.to_staff(
                    username, "presence",
                    {"conversation_id": conversation_id, "role": "youth", "online": online},
                )

    # -- both sides -----------------------------------------------------------------

    async def send(
        self, actor: Actor, conversation_id: ConversationId, body: bytes,
        client_msg_id: str | None, origin: str | None,
    ) -> Envelope:
        """Store an opaque body as the next envelope and deliver it to the other side."""
        # One round trip: the append script does the conversation part of the SEND
        # check of `check_access` itself (it mirrors that rule, see scripts.py); only
        # the parts that need no data are checked here, in check_access's order.
        kind, name, role = _send_check(actor, conversation_id)
        try:
            appended = await self.store.append_message(
                conversation_id, kind, name, role.value, self.clock.now_ms(), body,
                client_msg_id,
            )
        except SendRefused as refused:
            raise _send_error(refused.status) from None
        if not appended.duplicate:
            data = appended.envelope.to_wire()
            # The young person's own room: their other connections. Usually there is
            # none, and with Redis fan-out the emit would still be published.
            if role is not SenderRole.YOUTH or appended.youth_connections > 1:
                await self.notifier.to_youth(conversation_id, "message", data, skip=origin)
            for username in appended.recipients:
                await self.notifier.to_staff(Username(username), "message", data, skip=origin)
        return appended.envelope

    async def typing(
        self, actor: Actor, conversation_id: ConversationId, typing: bool, origin: str | None
    ) -> None:
        """Relay a typing signal to the other side; nothing is stored."""
        conv = await self.store.get_conversation(conversation_id)
        check_access(actor, conv, Action.SEND, now=self.clock.now_ms() // 1000)
        assert conv is not None
        role = _sender(actor)[2]
        data = {"conversation_id": conversation_id, "role": role.value, "typing": typing}
        await self._deliver(conv, "typing", data, origin)

    async def history(
        self, actor: Actor, conversation_id: ConversationId, after_seq: int, limit: int | None
    ) -> History:
        """Envelopes after `after_seq`, in order; `more` when a further page exists."""
        conv = await self.store.get_conversation(conversation_id)
        check_access(actor, conv, Action.READ, now=self.clock.now_ms() // 1000)
        assert conv is not None
        if isinstance(actor, StaffActor):
            await self.audit.record_read(actor.username, actor.role.value,
                                         AuditAction.READ_HISTORY, conversation_id)
        page = min(limit or self.policy.history_page_size, self.policy.history_page_size)
        first = 1
        if isinstance(actor, StaffActor) and actor.role is Role.POLICE \
                and not conv.police_share_history:
            # Without shared history an officer sees nothing from before the handover,
            # not even the ciphertext.
            first = conv.police_from_seq or conv.last_seq + 1
            after_seq = max(after_seq, first - 1)
        # The page and the last seq in one atomic read: a resume during a burst must
        # not hand out messages past the last_seq it reports.
        read, last_seq = await self.store.read_page(conversation_id, after_seq, page)
        messages = fit_page(read)
        last = messages[-1].seq if messages else after_seq
        return History(messages, last_seq, more=last < last_seq, first_seq=first)

    async def end(self, actor: Actor, conversation_id: ConversationId,
                  delete: bool = False) -> State:
        """End the chat. Unanswered: closed at once. Answered: ended, awaiting wrap-up.

        `delete` (the young person's "delete now"): the transcript is due for purging
        at once, unless the police were let in (their retention applies then).
        """
        conv = await self.store.get_conversation(conversation_id)
        if delete and isinstance(actor, YouthActor) and conv is not None \
                and conv.state not in CHAT_OPEN:
            # Already over: "delete now" still applies to what is left.
            check_access(actor, conv, Action.READ, now=self.clock.now_ms() // 1000)
            await self.store.purge_now(conversation_id, self.clock.now_ms())
            return conv.state
        check_access(actor, conv, Action.END, now=self.clock.now_ms() // 1000)
        if isinstance(actor, YouthActor):
            allowed, holder, by = CHAT_OPEN, None, SenderRole.YOUTH.value
        else:
            allowed, holder, by = ACTIVE_ONLY, actor.username, SenderRole.COUNSELLOR.value
        try:
            new_state, rank = await self.store.end_conversation(
                conversation_id, allowed, holder, by, self.clock.now_ms(),
                self.policy.retention_ms,
            )
        except StateConflict:
            raise InvalidState("This conversation has already ended.") from None
        if isinstance(actor, StaffActor):
            await self.audit.record(actor.username, actor.role.value, AuditAction.END,
                                    conversation_id)
        elif delete:
            await self.store.purge_now(conversation_id, self.clock.now_ms())
        updated = await self._load(conversation_id)
        await self._announce_state(updated)
        if new_state is State.CLOSED:
            await self._queue_changed(rank, left=[conversation_id] if rank is not None
                                      else [], also=[conversation_id])
        else:
            await self._overview_changed([conversation_id])
        return new_state

    async def delete_now(self, actor: StaffActor, conversation_id: ConversationId
                         ) -> tuple[State, bool]:
        """A supervisor's or admin's "delete now": what the young person's quick exit
        does (`end` with `delete`), for any conversation. A live one is ended first
        (closed if nobody answered, else ended: the young person and the holder get
        `state` as on any end); then it is due for purging at the next run, unless the
        police were let in (their retention applies). Audited as `delete_now`.
        Returns the state and whether it goes at the next purge run."""
        if actor.role not in OVERVIEW_ROLES:
            raise Forbidden()
        conv = await self.store.get_conversation(conversation_id)
        if conv is None:
            raise NotFound()
        now = self.clock.now_ms()
        state, ended, rank = conv.state, False, None
        if conv.state in CHAT_OPEN:
            try:
                state, rank = await self.store.end_conversation(
                    conversation_id, CHAT_OPEN, None, SenderRole.COUNSELLOR.value, now,
                    self.policy.retention_ms)
                ended = True
            except StateConflict:  # it ended meanwhile: "delete now" still applies
                state = (await self._load(conversation_id)).state
        due = await self.store.purge_now(conversation_id, now)
        await self.audit.record(actor.username, actor.role.value, AuditAction.DELETE_NOW,
                                conversation_id, {"ended": ended, "due": due})
        if ended:
            await self._announce_state(await self._load(conversation_id))
            if state is State.CLOSED:
                await self._queue_changed(rank, left=[conversation_id] if rank is not None
                                          else [], also=[conversation_id])
            else:
                await self._overview_changed([conversation_id])
        return state, due

    # -- staff ----------------------------------------------------------------------

    async def queue(self, actor: StaffActor) -> list[dict[str, Any]]:
        if actor.role not in QUEUE_ROLES:
            raise Forbidden()
        return await self._queue_entries(await self.store.list_queue_scored())

    async def held(self, actor: StaffActor) -> list[dict[str, Any]]:
        """The conversations this person holds (an officer: has joined), after a reconnect."""
        now = self.clock.now_ms()
        if actor.role is Role.POLICE:
            joined = await self.store.list_conversations_with_handover(Handover.JOINED.value)
            return [c.summary(now) for c in joined if c.police_officer == actor.username]
        if actor.role not in CHAT_ROLES:
            return []
        ids = await self.store.list_held(actor.username)
        return [c.summary(now) for c in await self.store.get_conversations(ids)]

    async def accept(self, actor: StaffActor, conversation_id: ConversationId) -> Conversation:
        """Take a queued conversation. Of two racing counsellors exactly one wins."""
        conv = await self.store.get_conversation(conversation_id)
        if conv is not None and conv.state is State.QUEUED and actor.role in CHAT_ROLES:
            await self._check_language_hold(actor, conv)
        try:
            check_access(actor, conv, Action.ACCEPT, now=self.clock.now_ms() // 1000)
            rank = await self.store.accept_conversation(
                conversation_id, actor.username, self.clock.now_ms(),
                self.policy.max_conversations_per_counsellor,
            )
        except (InvalidState, StateConflict) as exc:
            current = exc.current if isinstance(exc, StateConflict) else conv and conv.state
            if current in (State.ACTIVE, State.ACTIVE.value, State.ENDED, State.ENDED.value):
                raise AlreadyTaken() from None
            raise InvalidState("This conversation is no longer waiting.") from None
        await self.audit.record(actor.username, actor.role.value, AuditAction.ACCEPT,
                                conversation_id)
        updated = await self._load(conversation_id)
        await self._announce_state(updated)
        await self._queue_changed(rank, left=[conversation_id] if rank is not None else [])
        return updated

    async def _check_language_hold(self, actor: StaffActor, conv: Conversation) -> None:
        """For a while, a conversation is kept for counsellors who speak its language
        (if any exists): it is offered to them first."""
        if not conv.language or self.clock.now_ms() >= conv.queued_at + \
                self.policy.language_hold_ms:
            return
        me = await self.store.get_staff(actor.username)
        if me is not None and conv.language in me.languages:
            return
        if conv.language in await self._spoken_languages():
            raise Reserved()

    async def _spoken_languages(self) -> set[str]:
        """Languages some active counsellor or supervisor speaks."""
        return {lang for m in await self.store.list_staff()
                if not m.disabled and m.role in CHAT_ROLES for lang in m.languages}

    async def wrapup(
        self, actor: StaffActor, conversation_id: ConversationId, wrapup: WrapUp
    ) -> None:
        """File the wrap-up form; the conversation is closed and the slot freed."""
        conv = await self.store.get_conversation(conversation_id)
        check_access(actor, conv, Action.WRAPUP, now=self.clock.now_ms() // 1000)
        try:
            await self.store.wrapup_conversation(
                conversation_id, actor.username, self.clock.now_ms(), wrapup.to_fields(),
                self.policy.retention_ms,
            )
        except StateConflict:
            raise InvalidState("This conversation is already closed.") from None
        # That a wrap-up happened, not what it said: the form, age band and referral go
        # to the statistics counters only, whose small cells are suppressed; a forever
        # entry with them would undo that.
        await self.audit.record(actor.username, actor.role.value, AuditAction.WRAPUP,
                                conversation_id)
        updated = await self._load(conversation_id)
        # An officer who was in it is told too: closing ends the police part.
        assert conv is not None
        await self._announce_state(updated, also=staff_readers(conv))
        if conv.handover is Handover.CONSENTED:
            await self.notifier.to_police("handover_requests", {})
        await self._overview_changed([conversation_id])

    async def reassign(
        self, actor: StaffActor, conversation_id: ConversationId, to_user: str
    ) -> Conversation:
        """A supervisor moves an active conversation to another counsellor."""
        conv = await self.store.get_conversation(conversation_id)
        check_access(actor, conv, Action.REASSIGN, now=self.clock.now_ms() // 1000)
        assert conv is not None and conv.counsellor is not None
        target = await self.store.get_staff(to_user)
        if target is None or target.disabled or target.role not in CHAT_ROLES:
            raise NotFound(f"There is no active counsellor named {to_user!r}.")
        if target.username == conv.counsellor:
            raise InvalidState("That counsellor already holds this conversation.")
        try:
            await self.store.reassign_conversation(
                conversation_id, conv.counsellor, target.username,
                self.policy.max_conversations_per_counsellor,
            )
        except StateConflict:
            raise InvalidState("Only an active conversation can be reassigned.") from None
        await self.audit.record(actor.username, actor.role.value, AuditAction.REASSIGN,
                                conversation_id, {"from": conv.counsellor,
                                                  "to": target.username})
        updated = await self._load(conversation_id)
        now = self.clock.now_ms()
        await self.notifier.to_staff(conv.counsellor, "assignment", {
            "conversation": updated.summary(now), "held": False, "by": actor.username,
        })
        await self.notifier.to_staff(target.username, "assignment", {
            "conversation": updated.summary(now), "held": True, "by": actor.username,
        })
        await self._overview_changed([conversation_id])
        return updated

    async def overview(self, actor: StaffActor,
                       conversation_ids: Sequence[ConversationId] | None = None
                       ) -> tuple[list[dict[str, Any]], list[ConversationId]]:
        """Every live conversation's state, waiting time and counsellor, never content;
        or only those of `conversation_ids` (what an `overview` event named). Also the
        asked-for ids that are no longer live (closed or purged: "gone")."""
        if actor.role not in OVERVIEW_ROLES:
            raise Forbidden()
        now = self.clock.now_ms()
        if conversation_ids is None:
            live = await self.store.get_conversations(await self.store.list_live())
            return [c.summary(now) for c in live], []
        found = {c.id: c for c in await self.store.get_conversations(
            list(dict.fromkeys(conversation_ids))) if c.state in LIVE}
        gone = [cid for cid in dict.fromkeys(conversation_ids) if cid not in found]
        return [c.summary(now) for c in found.values()], gone

    # -- who is told what -----------------------------------------------------------

    async def _deliver(
        self, conv: Conversation, event: str, data: dict[str, Any], origin: str | None
    ) -> None:
        await self.notifier.to_youth(conv.id, event, data, skip=origin)
        for username in staff_readers(conv):
            await self.notifier.to_staff(username, event, data, skip=origin)

    async def _announce_state(self, conv: Conversation,
                              also: list[Username] | None = None) -> None:
        # The young person is told that a counsellor joined, never who.
        await self.notifier.to_youth(conv.id, "state", {
            "conversation_id": conv.id, "state": conv.state.value, "ended_by": conv.ended_by,
        })
        for username in dict.fromkeys(staff_readers(conv) + (also or [])):
            await self.notifier.to_staff(username, "state", {
                "conversation_id": conv.id, "state": conv.state.value,
                "ended_by": conv.ended_by, "counsellor": conv.counsellor,
            })

    async def _queue_changed(self, from_rank: int | None, *,
                             joined: Sequence[ConversationId] = (),
                             left: Sequence[ConversationId] = (),
                             also: Sequence[ConversationId] = (),
                             entries: list[dict[str, Any]] | None = None) -> None:
        """Tell queue watchers what joined and left, and the waiting young people whose
        place changed their new place: those at `from_rank` (0 = first) and behind,
        where one joined or left; None when nobody's place changed. A young person is
        not told about someone joining behind them (docs/protocol.md,
        `queue_position`). Watchers get a change, not the whole queue, so the cost of
        a change does not grow with the queue (issue 11). The overview is told of
        `joined`, `left` and `also` (a change outside the queue)."""
        length: int | None = None
        if from_rank is not None:
            moved = await self.store.list_queue_from(from_rank)
            length = from_rank + len(moved)
            for position, cid in enumerate(moved, start=from_rank + 1):
                await self.notifier.to_youth(cid, "queue_position", {
                    "conversation_id": cid, "position": position, "queue_length": length,
                })
        if joined or left:
            if entries is None:
                entries = await self._joined_entries(joined)
            if length is None:
                length = (await self.store.get_queue_rank(left[0]))[1]
            await self.notifier.to_queue_watchers("queue", {
                "joined": entries, "left": list(left), "queue_length": length,
            })
        await self._overview_changed([*joined, *left, *also])

    async def _overview_changed(self, conversation_ids: Sequence[ConversationId]) -> None:
        self._overview_dirty.update(conversation_ids)
        if self._overview_dirty:
            await self._push_overview()

    async def _joined_entries(self, joined: Sequence[ConversationId]
                              ) -> list[dict[str, Any]]:
        """Queue entries for conversations that just joined (one: a rank, not a scan)."""
        if not joined:
            return []
        if len(joined) == 1:
            rank, _length, score = await self.store.get_queue_place(joined[0])
            if rank is None or score is None:
                return []  # accepted or ended in the meantime: its `left` follows
            return await self._queue_entries([(joined[0], score)], first_position=rank + 1)
        wanted = set(joined)
        queue = await self.store.list_queue_scored()
        entries = await self._queue_entries(queue)
        return [e for e in entries if e["conversation_id"] in wanted]

    async def _push_overview_changes(self) -> None:
        changed, self._overview_dirty = self._overview_dirty, set()
        if changed:
            await self.notifier.to_overview_watchers(
                "overview", {"changed": sorted(changed)})

    async def _queue_entries(self, queue: Sequence[tuple[ConversationId, float]],
                             first_position: int = 1) -> list[dict[str, Any]]:
        now = self.clock.now_ms()
        entries = []
        spoken = await self._spoken_languages() if queue else set()
        order = dict(queue)
        convs = await self.store.get_conversations(list(order))
        for position, conv in enumerate(convs, start=first_position):
            score = order[conv.id]
            entry = conv.summary(now)
            entry["position"] = position
            entry["order"] = int(score)
            hold = conv.queued_at + self.policy.language_hold_ms
            entry["language_hold_until"] = (
                hold if conv.language in spoken and hold > now else None)
            entries.append(entry)
        return entries

    async def load(self, conversation_id: str) -> Conversation:
        return await self._load(conversation_id)

    async def _load(self, conversation_id: str) -> Conversation:
        conv = await self.store.get_conversation(conversation_id)
        if conv is None:
            raise NotFound()
        return conv


def staff_readers(conv: Conversation) -> list[Username]:
    """Staff who receive the conversation's live events: holder and joined officer."""
    out = [conv.counsellor] if conv.counsellor else []
    if conv.handover is Handover.JOINED and conv.police_officer:
        out.append(conv.police_officer)
    return out


def _send_check(actor: Actor, conversation_id: ConversationId
                ) -> tuple[str, str, SenderRole]:
    """The data-free part of check_access for SEND; (sender kind, name, role) for the
    append script, which checks the rest."""
    if isinstance(actor, YouthActor):
        if actor.conversation_id != conversation_id:
            raise NotFound()
        return "youth", "", SenderRole.YOUTH
    if actor.role is Role.POLICE:
        return "police", actor.username, SenderRole.POLICE
    if actor.role not in CHAT_ROLES:
        raise Forbidden()
    return "staff", actor.username, SenderRole.COUNSELLOR


def _send_error(status: str) -> Exception:
    """The error check_access gives for the append script's refusal `status`."""
    if status == "ended":
        return InvalidState("This conversation has ended.")
    if status == "not_active":
        return InvalidState("This conversation is not active.")
    return NotFound()


def _sender(actor: Actor) -> tuple[frozenset[State], tuple[str, str] | None, SenderRole]:
    """(states that allow sending, the field that must still name the sender, role)."""
    if isinstance(actor, YouthActor):
        return CHAT_OPEN, None, SenderRole.YOUTH
    if actor.role is Role.POLICE:
        return ACTIVE_ONLY, ("police_officer", actor.username), SenderRole.POLICE
    return ACTIVE_ONLY, ("counsellor", actor.username), SenderRole.COUNSELLOR
