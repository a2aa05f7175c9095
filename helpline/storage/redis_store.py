"""The only code that talks to Redis: conversations, messages, staff and sessions.

Methods are named verb_noun. A change that spans several keys runs as one Lua script
(storage/scripts.py) or one MULTI/EXEC pipeline. The store checks the preconditions
it is told (expected state, expected counsellor) atomically, but decides no policy:
which states allow what is the domain's business.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, cast

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from helpline.domain.conversation import Conversation, State
from helpline.domain.handover import Handover
from helpline.domain.ids import ConversationId, Username
from helpline.domain.messages import Appended, Envelope
from helpline.domain.roles import Role
from helpline.domain.staff import Session, StaffMember
from helpline.errors import (
    CapacityReached,
    InvalidState,
    InviteExpired,
    InviteInvalid,
    InviteUsed,
    NotFound,
)
from helpline.storage import scripts
from helpline.storage.account_store import AccountStoreMixin
from helpline.storage.audit_store import AuditStoreMixin
from helpline.storage.keyadmin_store import KeyAdminStoreMixin
from helpline.storage.keys import Keys
from helpline.storage.returncode_store import ReturnCodeStoreMixin
from helpline.storage.stats_store import StatsStoreMixin

DEDUP_TTL_SECONDS = 24 * 3600


class BadEpoch(InvalidState):
    """The epoch is not the next one; `current` is the conversation's current epoch."""

    def __init__(self, current: int) -> None:
        super().__init__(f"The next key epoch is {current + 1}.")
        self.current = current


class HandoverConflict(InvalidState):
    """The police handover was not in a state the move allows; `current` says which."""

    def __init__(self, current: str) -> None:
        super().__init__(f"Not possible while the police handover is {current}.")
        self.current = current


class ConsentReplay(Exception):
    """A consent nonce was used before."""


class StateConflict(InvalidState):
    """The conversation was not in a state the move allows; `current` says which."""

    def __init__(self, current: str | None) -> None:
        super().__init__()
        self.current = current


def connect_redis(url: str, max_connections: int) -> aioredis.Redis:
    """A bytes-mode client with a bounded pool that waits instead of failing when full."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=10
    )
    return aioredis.Redis(connection_pool=pool, decode_responses=False)


class RedisStore(AuditStoreMixin, AccountStoreMixin, StatsStoreMixin, KeyAdminStoreMixin,
                 ReturnCodeStoreMixin):
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self._append = redis.register_script(scripts.APPEND_MESSAGE)
        self._accept = redis.register_script(scripts.ACCEPT)
        self._end = redis.register_script(scripts.END)
        self._wrapup = redis.register_script(scripts.WRAPUP)
        self._reassign = redis.register_script(scripts.REASSIGN)
        self._count = redis.register_script(scripts.COUNT_IN_WINDOW)
        self._create_staff = redis.register_script(scripts.CREATE_STAFF)
        self._set_epoch = redis.register_script(scripts.SET_EPOCH)
        self._append_audit = redis.register_script(scripts.APPEND_AUDIT)
        self._handover = redis.register_script(scripts.HANDOVER)
        self._share_history = redis.register_script(scripts.SHARE_HISTORY)
        self._close_idle = redis.register_script(scripts.CLOSE_IDLE)
        self._purge_now = redis.register_script(scripts.PURGE_NOW)
        self._rollup = redis.register_script(scripts.ROLLUP)
        self._purge = redis.register_script(scripts.PURGE)
        self._update_if_state = redis.register_script(scripts.UPDATE_IF_STATE)
        self._finish_intake = redis.register_script(scripts.FINISH_INTAKE)
        self._offline_to_queue = redis.register_script(scripts.OFFLINE_TO_QUEUE)
        self._open_invite = redis.register_script(scripts.OPEN_INVITE)

    # -- health -------------------------------------------------------------------

    async def close(self) -> None:
        await self.redis.aclose()
        await self.redis.connection_pool.disconnect()

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    # -- conversations ------------------------------------------------------------

    async def create_conversation(
        self, conversation_id: ConversationId, resume_hash: str, now_ms: int,
        language: str | None, state: State = State.QUEUED, campaign: str | None = None,
    ) -> None:
        """Store a new conversation in `state` (queued, offline or intake) and index it,
        in one transaction."""
        fields: dict[str, str | int] = {
            "state": state.value,
            "created_at": now_ms,
            "queued_at": now_ms,
            "last_seq": 0,
            "resume_hash": resume_hash,
            "last_activity": now_ms,
        }
        if language:
            fields["language"] = language
        if campaign:
            fields["campaign"] = campaign
        if state is State.INTAKE:
            fields["intake_step"] = "language"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.conv(conversation_id), mapping=fields)  # type: ignore[arg-type]
            if state is State.QUEUED:
                pipe.zadd(self.keys.queue, {conversation_id: now_ms})
            if state is State.OFFLINE:
                pipe.zadd(self.keys.offline, {conversation_id: now_ms})
            pipe.zadd(self.keys.live, {conversation_id: now_ms})
            await pipe.execute()

    async def update_if_state(self, conversation_id: ConversationId, state: State,
                              fields: dict[str, str | int]) -> None:
        args: list[str | int] = [state.value]
        for k, v in fields.items():
            args += [k, v]
        _check(await self._run(self._update_if_state, [self.keys.conv(conversation_id)],
                               args))

    async def finish_intake(self, conversation_id: ConversationId, now_ms: int,
                            target: State, score: int, fields: dict[str, str | int]) -> None:
        """Intake over: into the queue (with `score`) or, when closed, the offline set."""
        args: list[str | int] = [conversation_id, now_ms, target.value, score]
        for k, v in fields.items():
            args += [k, v]
        _check(await self._run(self._finish_intake, [
            self.keys.conv(conversation_id), self.keys.queue, self.keys.offline], args))

    async def list_offline(self) -> list[ConversationId]:
        ids = cast(list[bytes], await self.redis.zrange(self.keys.offline, 0, -1))
        return [ConversationId(i.decode()) for i in ids]

    async def offline_to_queue(self, conversation_id: ConversationId, now_ms: int,
                               score: int) -> bool:
        res = await self._run(self._offline_to_queue, [
            self.keys.conv(conversation_id), self.keys.queue, self.keys.offline],
            [conversation_id, now_ms, score])
        return res[0] == b"ok"

    async def open_invited(self, code_hash: str, conversation_id: ConversationId,
                           resume_hash: str, now_ms: int, language: str | None,
                           campaign: str | None) -> str:
        """Open a conversation held at once by the inviting counsellor; returns them.

        Raises InviteInvalid, InviteExpired or InviteUsed.
        """
        res = await self._run(self._open_invite, [
            self.keys.invite(code_hash), self.keys.conv(conversation_id), self.keys.live,
            self.keys.participants(conversation_id)],
            [conversation_id, now_ms, resume_hash, language or "", campaign or "",
             f"{self.keys.prefix}held:"])
        status = res[0]
        if status == b"invalid":
            raise InviteInvalid()
        if status == b"expired":
            raise InviteExpired()
        if status == b"used":
            raise InviteUsed()
        return res[1].decode()

    async def create_invite(self, code_hash: str, counsellor: str, expires_at_ms: int,
                            keep_seconds: int) -> None:
        key = self.keys.invite(code_hash)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"counsellor": counsellor, "expires_at": expires_at_ms,
                                    "used": "0"})
            pipe.expire(key, keep_seconds)
            await pipe.execute()

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        raw = await cast(
            Awaitable[dict[bytes, bytes]], self.redis.hgetall(self.keys.conv(conversation_id))
        )
        return _conversation(conversation_id, raw) if raw else None

    async def get_conversations(self, ids: Sequence[str]) -> list[Conversation]:
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid in ids:
                pipe.hgetall(self.keys.conv(cid))
            rows: list[dict[bytes, bytes]] = await pipe.execute()
        return [_conversation(cid, raw) for cid, raw in zip(ids, rows, strict=True) if raw]

    async def get_resume_hash(self, conversation_id: str) -> str | None:
        raw = await cast(
            Awaitable[bytes | None],
            self.redis.hget(self.keys.conv(conversation_id), "resume_hash"),
        )
        return raw.decode() if raw else None

    async def set_resume_hash(self, conversation_id: str, resume_hash: str) -> None:
        await self.redis.hset(self.keys.conv(conversation_id), "resume_hash", resume_hash)

    async def list_queue(self) -> list[ConversationId]:
        ids = cast(list[bytes], await self.redis.zrange(self.keys.queue, 0, -1))
        return [ConversationId(i.decode()) for i in ids]

    async def list_live(self) -> list[ConversationId]:
        ids = cast(list[bytes], await self.redis.zrange(self.keys.live, 0, -1))
        return [ConversationId(i.decode()) for i in ids]

    async def list_held(self, username: str) -> list[ConversationId]:
        ids = await cast(Awaitable[set[bytes]], self.redis.smembers(self.keys.held(username)))
        return sorted(ConversationId(i.decode()) for i in ids)

    async def accept_conversation(
        self, conversation_id: ConversationId, username: Username, now_ms: int, capacity: int
    ) -> None:
        """Move queued -> active for `username`; exactly one of racing accepts succeeds."""
        res = await self._run(
            self._accept,
            [self.keys.conv(conversation_id), self.keys.queue, self.keys.held(username),
             self.keys.participants(conversation_id)],
            [conversation_id, username, now_ms, capacity],
        )
        _check(res)

    async def end_conversation(
        self, conversation_id: ConversationId, allowed: Iterable[State],
        required_counsellor: str | None, ended_by: str, now_ms: int,
        retention: tuple[int, int],
    ) -> State:
        """End the chat; returns the new state (closed if never answered, else ended).

        `retention`: (ms, ms with police) until a conversation closed now is purged.
        """
        res = await self._run(
            self._end,
            [self.keys.conv(conversation_id), self.keys.queue, self.keys.live,
             self.keys.purge, self.keys.uncounted, self.keys.offline],
            [conversation_id, _csv(allowed), required_counsellor or "", ended_by, now_ms,
             *retention],
        )
        _check(res)
        return State(res[1].decode())

    async def wrapup_conversation(
        self, conversation_id: ConversationId, counsellor: Username, now_ms: int,
        fields: dict[str, str], retention: tuple[int, int],
    ) -> None:
        """Close the conversation with the counsellor's wrap-up; frees their slot and
        schedules the purge."""
        args: list[str | int] = [conversation_id, counsellor, now_ms, *retention]
        for k, v in fields.items():
            args += [k, v]
        res = await self._run(
            self._wrapup,
            [self.keys.conv(conversation_id), self.keys.held(counsellor), self.keys.live,
             self.keys.purge, self.keys.uncounted],
            args,
        )
        _check(res)

    async def reassign_conversation(
        self, conversation_id: ConversationId, from_user: Username, to_user: Username,
        capacity: int,
    ) -> None:
        res = await self._run(
            self._reassign,
            [self.keys.conv(conversation_id), self.keys.held(from_user),
             self.keys.held(to_user), self.keys.participants(conversation_id)],
            [conversation_id, from_user, to_user, capacity],
        )
        _check(res)

    # -- messages -----------------------------------------------------------------

    async def append_message(
        self, conversation_id: ConversationId, allowed: Iterable[State],
        sender_check: tuple[str, str] | None, sender_role: str, now_ms: int, body: bytes,
        client_msg_id: str | None,
    ) -> Appended:
        """Append an envelope with the next gap-free seq, if the state still allows it.

        `sender_check` is (conversation field, name) that must still match at this
        moment: ("counsellor", name) or ("police_officer", name); None for the young
        person. A resend with a `client_msg_id` already stored returns the original envelope
        (`duplicate=True`), so a client that lost an ack can resend without doubling.
        """
        res = await self._run(
            self._append,
            [self.keys.conv(conversation_id), self.keys.msgs(conversation_id),
             self.keys.dedup(conversation_id)],
            [_csv(allowed), sender_check[0] if sender_check else "",
             sender_check[1] if sender_check else "", sender_role, now_ms, body,
             client_msg_id or "", DEDUP_TTL_SECONDS],
        )
        _check(res)
        if res[0] == b"duplicate":
            stored = await self.read_messages(conversation_id, int(res[1]) - 1, 1)
            return Appended(stored[0], duplicate=True)
        envelope = Envelope(conversation_id, int(res[1]), sender_role, now_ms, body)
        counsellor, handover, officer = (x.decode() for x in res[2:5])
        recipients = [counsellor] if counsellor else []
        if handover == "joined" and officer:
            recipients.append(officer)
        return Appended(envelope, duplicate=False, recipients=tuple(recipients))

    async def read_messages(
        self, conversation_id: ConversationId, after_seq: int, limit: int
    ) -> list[Envelope]:
        """Envelopes with seq > after_seq, in order, at most `limit`."""
        raw = await cast(
            Awaitable[list[bytes]],
            self.redis.lrange(self.keys.msgs(conversation_id), after_seq, after_seq + limit - 1),
        )
        out = []
        for offset, packed in enumerate(raw):
            role, at, body = packed.split(b"|", 2)
            out.append(Envelope(conversation_id, after_seq + offset + 1, role.decode(),
                                int(at), body))
        return out

    async def list_participants(self, conversation_id: str) -> list[Username]:
        raw = await cast(Awaitable[set[bytes]],
                         self.redis.smembers(self.keys.participants(conversation_id)))
        return sorted(Username(u.decode()) for u in raw)

    # -- end-to-end keys of a conversation (public material and wraps only) ---------

    async def set_epoch(
        self, conversation_id: ConversationId, allowed: Iterable[State], epoch: int,
        youth_key: bytes | None, wraps: Sequence[tuple[str, bytes]], statement_json: str,
        police_wrap: bool = False,
    ) -> None:
        """Store the signed statement and wraps of the next epoch key in one step;
        `BadEpoch` unless epoch = current + 1.

        `police_wrap`: one wrap is for the police unit; refused (`HandoverConflict`)
        unless the handover is consented or joined at this very moment.
        """
        args: list[str | int | bytes] = [_csv(allowed), epoch, youth_key or b"",
                                         "1" if police_wrap else "0", statement_json]
        for recipient, wrap in wraps:
            args += [recipient, wrap]
        res = await self._run(
            self._set_epoch,
            [self.keys.conv(conversation_id), self.keys.e2e(conversation_id),
             self.keys.wraps(conversation_id)],
            args,
        )
        if res[0] == b"bad_epoch":
            raise BadEpoch(int(res[1]))
        if res[0] == b"no_consent":
            raise HandoverConflict(res[1].decode())
        _check(res)

    async def get_conversation_keys(
        self, conversation_id: str
    ) -> tuple[bytes | None, int, list[tuple[int, str, bytes]]]:
        """(youth signing key, current epoch, [(epoch, recipient fingerprint, wrap)])."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.e2e(conversation_id))
            pipe.hgetall(self.keys.wraps(conversation_id))
            e2e, wraps = await pipe.execute()
        out = []
        for field_, wrap in wraps.items():
            epoch_s, _, recipient = field_.decode().partition(":")
            out.append((int(epoch_s), recipient, bytes(wrap)))
        out.sort()
        return e2e.get(b"youth_key"), int(e2e.get(b"epoch", 0)), out

    async def get_epoch_statements(self, conversation_id: str) -> list[str]:
        """The young person's signed epoch statements (JSON), oldest epoch first."""
        e2e = await cast(Awaitable[dict[bytes, bytes]],
                         self.redis.hgetall(self.keys.e2e(conversation_id)))
        found = [(int(k[len(b"statement:"):]), v.decode()) for k, v in e2e.items()
                 if k.startswith(b"statement:")]
        return [text for _, text in sorted(found)]

    async def change_handover(
        self, conversation_id: ConversationId, *, states: Iterable[State] | None,
        handovers: Iterable[str], fields: dict[str, str | int],
        check: tuple[str, str] | None = None, nonce: str | None = None,
        participant: str | None = None,
    ) -> str:
        """Move the police handover atomically; returns the handover state it left.

        Raises NotFound, StateConflict (conversation state), HandoverConflict
        (handover state) or ConsentReplay (nonce seen before).
        """
        args: list[str | int] = [
            _csv(states) if states is not None else "", ",".join(handovers),
            check[0] if check else "", check[1] if check else "", nonce or "",
            participant or ""]
        for k, v in fields.items():
            args += [k, v]
        res = await self._run(
            self._handover,
            [self.keys.conv(conversation_id), self.keys.nonces(conversation_id),
             self.keys.participants(conversation_id)], args)
        if res[0] == b"bad_handover":
            raise HandoverConflict(res[1].decode())
        if res[0] == b"replay":
            raise ConsentReplay()
        _check(res)
        return res[1].decode()

    async def share_history_wraps(
        self, conversation_id: ConversationId, wraps: Sequence[tuple[int, str, bytes]]
    ) -> None:
        args: list[str | bytes] = []
        for epoch, recipient, wrap in wraps:
            args += [f"{epoch}:{recipient}", wrap]
        res = await self._run(
            self._share_history,
            [self.keys.conv(conversation_id), self.keys.wraps(conversation_id)], args)
        if res[0] == b"no_consent":
            raise HandoverConflict(res[1].decode())
        _check(res)

    async def list_conversations_with_handover(self, state: str) -> list[Conversation]:
        """Live conversations whose handover is in `state` (police see only these)."""
        live = await self.get_conversations(await self.list_live())
        return [c for c in live if c.handover.value == state]

    # -- organisation keys (public statements) and staff devices --------------------

    async def set_signing_key(self, raw: bytes) -> None:
        await self.redis.set(self.keys.signing_key, raw)

    async def get_signing_key(self) -> bytes | None:
        return cast(bytes | None, await self.redis.get(self.keys.signing_key))

    async def put_team_statement(self, period: str, statement_json: str,
                                 current: bool) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.team_keys, period, statement_json)
            if current:
                pipe.set(self.keys.current_team_key, period)
            await pipe.execute()

    async def get_team_statements(self) -> dict[str, str]:
        raw = await cast(Awaitable[dict[bytes, bytes]], self.redis.hgetall(self.keys.team_keys))
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def get_current_period(self) -> str | None:
        raw = cast(bytes | None, await self.redis.get(self.keys.current_team_key))
        return raw.decode() if raw else None

    async def set_police_statement(self, statement_json: str) -> None:
        await self.redis.set(self.keys.police_key, statement_json)

    async def get_police_statement(self) -> str | None:
        raw = cast(bytes | None, await self.redis.get(self.keys.police_key))
        return raw.decode() if raw else None

    async def set_device(self, username: str, encryption: bytes, signing: bytes) -> None:
        """Register a staff device's public keys; earlier grants no longer apply."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.device(username), self.keys.grants(username))
            pipe.hset(self.keys.device(username),
                      mapping={"encryption": encryption, "signing": signing})
            await pipe.execute()

    async def get_device(self, username: str) -> dict[str, bytes]:
        raw = await cast(Awaitable[dict[bytes, bytes]],
                         self.redis.hgetall(self.keys.device(username)))
        return {k.decode(): v for k, v in raw.items()}

    async def add_staff_statement(self, username: str, signing_fingerprint: str,
                                  statement_json: str) -> None:
        await self.redis.hset(self.keys.staff_statements(username), signing_fingerprint,
                              statement_json)

    async def get_staff_statements(self, username: str) -> dict[str, str]:
        """Signing key fingerprint -> statement, for every device this person has had."""
        raw = await cast(Awaitable[dict[bytes, bytes]],
                         self.redis.hgetall(self.keys.staff_statements(username)))
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def put_grant(self, username: str, subject: str, wrap: bytes) -> None:
        await self.redis.hset(self.keys.grants(username), subject, wrap)

    async def get_grants(self, username: str) -> dict[str, bytes]:
        raw = await cast(Awaitable[dict[bytes, bytes]],
                         self.redis.hgetall(self.keys.grants(username)))
        return {k.decode(): v for k, v in raw.items()}

    # -- staff --------------------------------------------------------------------

    async def create_staff(self, member: StaffMember) -> bool:
        """Store a new staff member; False if the name is taken."""
        key = self.keys.staff(member.username)
        fields = {
            "role": member.role.value,
            "password_hash": member.password_hash,
            "disabled": "1" if member.disabled else "0",
            "created_at": str(member.created_at),
            "languages": ",".join(member.languages),
        }
        args: list[str] = [member.username]
        for k, v in fields.items():
            args += [k, v]
        created = await self._create_staff(keys=[key, self.keys.staff_index], args=args)
        return bool(created)

    async def get_staff(self, username: str) -> StaffMember | None:
        raw = await cast(
            Awaitable[dict[bytes, bytes]], self.redis.hgetall(self.keys.staff(username))
        )
        return _staff(username, raw) if raw else None

    async def list_staff(self) -> list[StaffMember]:
        names = sorted(
            n.decode() for n in
            await cast(Awaitable[set[bytes]], self.redis.smembers(self.keys.staff_index))
        )
        # One round trip: this runs on every queue change (languages spoken).
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(self.keys.staff(name))
            rows: list[dict[bytes, bytes]] = await pipe.execute()
        return [_staff(name, raw) for name, raw in zip(names, rows, strict=True) if raw]

    async def disable_staff(self, username: str) -> list[str]:
        """Mark disabled and delete every session, atomically; returns the session hashes."""
        skey = self.keys.sessions(username)
        hashes = [
            h.decode() for h in await cast(Awaitable[set[bytes]], self.redis.smembers(skey))
        ]
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.staff(username), "disabled", "1")
            for h in hashes:
                pipe.delete(self.keys.session(h))
            pipe.delete(skey)
            await pipe.execute()
        return hashes

    # -- sessions and login throttling --------------------------------------------

    async def create_session(self, session: Session, ttl_seconds: int) -> None:
        key = self.keys.session(session.token_hash)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={
                "username": session.username,
                "role": session.role.value,
                "expires_at": str(session.expires_at),
            })
            pipe.expire(key, ttl_seconds)
            pipe.sadd(self.keys.sessions(session.username), session.token_hash)
            # The index outlives no session by much: refreshed on every login.
            pipe.expire(self.keys.sessions(session.username), ttl_seconds)
            await pipe.execute()

    async def get_session(self, token_hash: str) -> Session | None:
        raw = await cast(
            Awaitable[dict[bytes, bytes]], self.redis.hgetall(self.keys.session(token_hash))
        )
        if not raw:
            return None
        return Session(
            username=Username(raw[b"username"].decode()),
            role=Role(raw[b"role"].decode()),
            expires_at=int(raw[b"expires_at"]),
            token_hash=token_hash,
        )

    async def delete_session(self, session: Session) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.session(session.token_hash))
            pipe.srem(self.keys.sessions(session.username), session.token_hash)
            await pipe.execute()

    async def count_login_failure(self, username: str, window_seconds: int) -> int:
        """Count one login attempt; the count lapses `window_seconds` after the first."""
        count = await self._count(keys=[self.keys.login_failures(username)],
                                  args=[window_seconds])
        return int(count)

    async def clear_login_failures(self, username: str) -> None:
        await self.redis.delete(self.keys.login_failures(username))

    # -- retention and statistics -------------------------------------------------------

    async def close_idle(self, conversation_id: ConversationId, counsellor: str | None,
                         now_ms: int, idle_ms: int, retention: tuple[int, int]) -> bool:
        """Close the conversation if nothing happened in it for `idle_ms`."""
        held = self.keys.held(counsellor) if counsellor else self.keys.held("nobody")
        res = await self._run(
            self._close_idle,
            [self.keys.conv(conversation_id), self.keys.queue, self.keys.live, held,
             self.keys.purge, self.keys.uncounted, self.keys.offline],
            [conversation_id, now_ms, idle_ms, *retention])
        return res[0] == b"ok"

    async def purge_now(self, conversation_id: ConversationId, now_ms: int) -> bool:
        """Make the conversation due at once; False when the police were let in."""
        res = await self._run(self._purge_now,
                              [self.keys.conv(conversation_id), self.keys.purge],
                              [conversation_id, now_ms])
        if res[0] == b"police":
            return False
        _check(res)
        return True

    async def list_due(self, now_ms: int, limit: int) -> list[ConversationId]:
        ids = cast(list[bytes], await self.redis.zrangebyscore(
            self.keys.purge, "-inf", now_ms, start=0, num=limit))
        return [ConversationId(i.decode()) for i in ids]

    async def list_uncounted(self, limit: int) -> list[ConversationId]:
        ids = cast(list[bytes], await self.redis.srandmember(self.keys.uncounted, limit))
        return [ConversationId(i.decode()) for i in ids or []]

    async def get_conversation_fields(self, conversation_id: str) -> dict[str, str]:
        raw = await cast(Awaitable[dict[bytes, bytes]],
                         self.redis.hgetall(self.keys.conv(conversation_id)))
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def count_conversation(self, conversation_id: ConversationId, week: str,
                                 cell: str) -> None:
        await self._rollup(keys=[self.keys.conv(conversation_id), self.keys.uncounted,
                                 self.keys.stats(week)], args=[conversation_id, cell])

    async def purge_conversation(self, conversation_id: ConversationId,
                                 counsellor: str | None, now_ms: int, week: str,
                                 cell: str, return_lookup: str | None = None) -> bool:
        """Delete every key of a due conversation at once (counting it first if needed).

        False if it is no longer due or changed hands since it was read.
        """
        cid = conversation_id
        held = self.keys.held(counsellor) if counsellor else self.keys.held("nobody")
        res = await self._run(self._purge, [
            self.keys.conv(cid), self.keys.msgs(cid), self.keys.dedup(cid), self.keys.e2e(cid),
            self.keys.wraps(cid), self.keys.participants(cid), self.keys.nonces(cid),
            self.keys.purge, self.keys.live, self.keys.queue, held, self.keys.uncounted,
            self.keys.stats(week),
            self.keys.return_code(return_lookup) if return_lookup else f"{self.keys.prefix}none",
            self.keys.offline], [cid, counsellor or "", now_ms, cell])
        return res[0] == b"ok"

    async def rewrite_persistence(self) -> None:
        """Make Redis rewrite its AOF and snapshot, so deleted bytes leave its files."""
        await self.redis.bgrewriteaof()
        await self.redis.bgsave(schedule=True)

    async def get_stats(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        async for key in self.redis.scan_iter(match=self.keys.stats_pattern, count=500):
            week = key.decode().rsplit(":", 1)[1]
            raw = await cast(Awaitable[dict[bytes, bytes]], self.redis.hgetall(key))
            out[week] = {k.decode(): int(v) for k, v in raw.items()}
        return out

    async def take_lock(self, job: str, slot: int, owner: str, ttl_ms: int) -> bool:
        return bool(await self.redis.set(self.keys.lock(job, slot), owner, nx=True, px=ttl_ms))

    async def release_lock(self, job: str, slot: int) -> None:
        await self.redis.delete(self.keys.lock(job, slot))

    async def log_job(self, entry: dict[str, object]) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(self.keys.jobs, json.dumps(entry, sort_keys=True))
            pipe.ltrim(self.keys.jobs, 0, 999)
            await pipe.execute()

    async def list_jobs(self) -> list[dict[str, object]]:
        raw = await cast(Awaitable[list[bytes]], self.redis.lrange(self.keys.jobs, 0, -1))
        return [json.loads(r) for r in raw]

    async def mark_team_replaced(self, period: str, at_ms: int) -> None:
        await cast(Awaitable[bool], self.redis.hsetnx(self.keys.team_replaced, period, at_ms))

    async def get_team_replaced(self) -> dict[str, int]:
        raw = await cast(Awaitable[dict[bytes, bytes]],
                         self.redis.hgetall(self.keys.team_replaced))
        return {k.decode(): int(v) for k, v in raw.items()}

    async def retire_period(self, period: str) -> int:
        """Shred a team period: delete every staff member's grant of it, atomically."""
        names = [n.decode() for n in await cast(
            Awaitable[set[bytes]], self.redis.smembers(self.keys.staff_index))]
        async with self.redis.pipeline(transaction=True) as pipe:
            for name in names:
                pipe.hdel(self.keys.grants(name), period)
            pipe.sadd(self.keys.retired_periods, period)
            results = await pipe.execute()
        return sum(int(r) for r in results[:-1])

    async def get_retired_periods(self) -> set[str]:
        raw = await cast(Awaitable[set[bytes]], self.redis.smembers(self.keys.retired_periods))
        return {r.decode() for r in raw}

    # -- audit log --------------------------------------------------------------------

    async def get_audit_head(self) -> tuple[int, str]:
        raw = cast(bytes | None, await self.redis.get(self.keys.audit_head))
        if raw is None:
            return 0, "0" * 64
        count, _, digest = raw.decode().partition(":")
        return int(count), digest

    async def append_audit(self, expected_head: tuple[int, str], new_head: tuple[int, str],
                           entry_json: str) -> bool:
        """Append if the head is unchanged; False means someone appended first."""
        done = await self._append_audit(
            keys=[self.keys.audit, self.keys.audit_head],
            args=[f"{expected_head[0]}:{expected_head[1]}", f"{new_head[0]}:{new_head[1]}",
                  entry_json])
        return bool(done)

    async def read_audit(self, start: int, limit: int) -> list[str]:
        raw = await cast(Awaitable[list[bytes]],
                         self.redis.lrange(self.keys.audit, start, start + limit - 1))
        return [r.decode() for r in raw]

    # -- control messages between processes ---------------------------------------

    async def publish_control(self, message: dict[str, str]) -> None:
        await self.redis.publish(self.keys.control_channel, json.dumps(message))

    # -- helpers --------------------------------------------------------------------

    async def _run(
        self, script: AsyncScript, keys: list[str], args: list[Any]
    ) -> list[bytes]:
        return cast(list[bytes], await script(keys=keys, args=args))


def _check(res: list[bytes]) -> None:
    status = res[0]
    if status in (b"ok", b"duplicate"):
        return
    if status == b"not_found":
        raise NotFound()
    if status == b"capacity":
        raise CapacityReached()
    if status == b"invalid_state":
        raise StateConflict(res[1].decode() if len(res) > 1 else None)
    raise RuntimeError(f"unexpected script status {status!r}")


def _csv(states: Iterable[State]) -> str:
    return ",".join(s.value for s in states)


def _int(raw: dict[bytes, bytes], key: bytes) -> int | None:
    value = raw.get(key)
    return int(value) if value else None


def _str(raw: dict[bytes, bytes], key: bytes) -> str | None:
    value = raw.get(key)
    return value.decode() if value is not None else None


def _conversation(conversation_id: str, raw: dict[bytes, bytes]) -> Conversation:
    counsellor = _str(raw, b"counsellor")
    officer = _str(raw, b"police_officer")
    invited = _str(raw, b"invited_by")
    return Conversation(
        id=ConversationId(conversation_id),
        state=State(raw[b"state"].decode()),
        created_at=int(raw[b"created_at"]),
        queued_at=int(raw[b"queued_at"]),
        last_seq=int(raw.get(b"last_seq", b"0")),
        language=_str(raw, b"language"),
        counsellor=Username(counsellor) if counsellor else None,
        accepted_at=_int(raw, b"accepted_at"),
        ended_at=_int(raw, b"ended_at"),
        ended_by=_str(raw, b"ended_by"),
        closed_at=_int(raw, b"closed_at"),
        handover=Handover(_str(raw, b"handover") or "none"),
        police_officer=Username(officer) if officer else None,
        police_share_history=raw.get(b"police_share") == b"1",
        police_epoch=_int(raw, b"police_epoch"),
        police_from_seq=_int(raw, b"police_from_seq"),
        police_expires=_int(raw, b"police_expires"),
        police_consent=_str(raw, b"police_consent"),
        urgent=raw.get(b"urgent") == b"1",
        age_band=_str(raw, b"intake_age") or None,
        form_hint=_str(raw, b"intake_form") or None,
        intake_step=_str(raw, b"intake_step") or None,
        invited_by=Username(invited) if invited else None,
    )


def _staff(username: str, raw: dict[bytes, bytes]) -> StaffMember:
    langs = raw.get(b"languages", b"").decode()
    return StaffMember(
        username=Username(username),
        role=Role(raw[b"role"].decode()),
        password_hash=raw[b"password_hash"].decode(),
        disabled=raw.get(b"disabled") == b"1",
        created_at=int(raw[b"created_at"]),
        languages=tuple(x for x in langs.split(",") if x),
    )
