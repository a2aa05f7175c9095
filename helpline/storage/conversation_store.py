"""Conversation storage: opening, the queue, holding, ending and wrap-up.

Mixed into RedisStore. This module owns

    {p}conv:{id}            hash   the conversation's metadata (state, times, counsellor,
                                   handover fields, intake answers, resume hash, ...)
    {p}conv:{id}:who        set    staff who have held the conversation (written by
                                   accept, reassign and an invite; read by the key service)
    {p}queue                zset   queued conversation ids, by queued_at (or urgency score)
    {p}live                 zset   not-yet-closed conversation ids, by created_at
    {p}offline              zset   conversations left outside opening hours
    {p}held:{username}      set    conversations a counsellor holds
    {p}invite:{sha256}      hash   counsellor, expires_at, used: a one-time invite (TTL)

Other mixins write some of the same keys inside their own atomic moves (the handover
fields of `conv:{id}`, the purge of every key); the state machine that says which move
is allowed lives in the domain, not here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from typing import cast

from helpline.domain.conversation import Conversation, State
from helpline.domain.handover import Handover
from helpline.domain.ids import ConversationId, Username
from helpline.errors import InviteExpired, InviteInvalid, InviteUsed
from helpline.storage import scripts
from helpline.storage.base import (
    StoreBase,
    int_field,
    raise_for_status,
    states_csv,
    str_field,
)

# Live conversations read per round trip when scanning them for their handover state.
SCAN_CHUNK = 200


class ConversationStoreMixin(StoreBase):
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
        raise_for_status(await self._run(
            scripts.UPDATE_IF_STATE, [self.keys.conv(conversation_id)], args))

    async def finish_intake(self, conversation_id: ConversationId, now_ms: int,
                            target: State, score: int, fields: dict[str, str | int]) -> None:
        """Intake over: into the queue (with `score`) or, when closed, the offline set."""
        args: list[str | int] = [conversation_id, now_ms, target.value, score]
        for k, v in fields.items():
            args += [k, v]
        raise_for_status(await self._run(scripts.FINISH_INTAKE, [
            self.keys.conv(conversation_id), self.keys.queue, self.keys.offline], args))

    async def list_offline(self) -> list[ConversationId]:
        ids = cast(list[bytes], await self.redis.zrange(self.keys.offline, 0, -1))
        return [ConversationId(i.decode()) for i in ids]

    async def offline_to_queue(self, conversation_id: ConversationId, now_ms: int,
                               score: int) -> bool:
        res = await self._run(scripts.OFFLINE_TO_QUEUE, [
            self.keys.conv(conversation_id), self.keys.queue, self.keys.offline],
            [conversation_id, now_ms, score])
        return res[0] == b"ok"

    async def open_invited(self, code_hash: str, conversation_id: ConversationId,
                           resume_hash: str, now_ms: int, language: str | None,
                           campaign: str | None) -> str:
        """Open a conversation held at once by the inviting counsellor; returns them.

        Raises InviteInvalid, InviteExpired or InviteUsed.
        """
        res = await self._run(scripts.OPEN_INVITE, [
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

    async def list_queue_scored(self) -> list[tuple[ConversationId, float]]:
        """The queue in order, each with its score (the order key queue entries carry)."""
        pairs = cast(list[tuple[bytes, float]],
                     await self.redis.zrange(self.keys.queue, 0, -1, withscores=True))
        return [(ConversationId(i.decode()), float(score)) for i, score in pairs]

    async def get_queue_place(self, conversation_id: str
                              ) -> tuple[int | None, int, float | None]:
        """(rank or None, queue length, score or None) in one round trip."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrank(self.keys.queue, conversation_id)
            pipe.zcard(self.keys.queue)
            pipe.zscore(self.keys.queue, conversation_id)
            rank, length, score = await pipe.execute()
        return ((None if rank is None else int(rank)), int(length),
                (None if score is None else float(score)))

    async def get_queue_rank(self, conversation_id: str) -> tuple[int | None, int]:
        """(rank, 0 = first, or None when not queued; queue length) in one round trip."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrank(self.keys.queue, conversation_id)
            pipe.zcard(self.keys.queue)
            rank, length = await pipe.execute()
        return (None if rank is None else int(rank)), int(length)

    async def list_queue_from(self, rank: int) -> list[ConversationId]:
        """The queue from `rank` (0 = first) to its end: those whose place a change at
        `rank` moved."""
        ids = cast(list[bytes], await self.redis.zrange(self.keys.queue, rank, -1))
        return [ConversationId(i.decode()) for i in ids]

    async def list_live(self) -> list[ConversationId]:
        ids = cast(list[bytes], await self.redis.zrange(self.keys.live, 0, -1))
        return [ConversationId(i.decode()) for i in ids]

    async def list_held(self, username: str) -> list[ConversationId]:
        ids = await cast(Awaitable[set[bytes]], self.redis.smembers(self.keys.held(username)))
        return sorted(ConversationId(i.decode()) for i in ids)

    async def accept_conversation(
        self, conversation_id: ConversationId, username: Username, now_ms: int, capacity: int
    ) -> int | None:
        """Move queued -> active for `username`; exactly one of racing accepts succeeds.

        Returns the rank (0 = first) it had in the queue, None if it was not in it.
        """
        res = await self._run(
            scripts.ACCEPT,
            [self.keys.conv(conversation_id), self.keys.queue, self.keys.held(username),
             self.keys.participants(conversation_id)],
            [conversation_id, username, now_ms, capacity],
        )
        raise_for_status(res)
        return _rank(res[1])

    async def end_conversation(
        self, conversation_id: ConversationId, allowed: Iterable[State],
        required_counsellor: str | None, ended_by: str, now_ms: int,
        retention: tuple[int, int],
    ) -> tuple[State, int | None]:
        """End the chat; returns the new state (closed if never answered, else ended)
        and the rank (0 = first) it had in the queue, None if it was not in it.

        `retention`: (ms, ms with police) until a conversation closed now is purged.
        """
        res = await self._run(
            scripts.END,
            [self.keys.conv(conversation_id), self.keys.queue, self.keys.live,
             self.keys.purge, self.keys.uncounted, self.keys.offline],
            [conversation_id, states_csv(allowed), required_counsellor or "", ended_by, now_ms,
             *retention],
        )
        raise_for_status(res)
        return State(res[1].decode()), _rank(res[2]) if len(res) > 2 else None

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
            scripts.WRAPUP,
            [self.keys.conv(conversation_id), self.keys.held(counsellor), self.keys.live,
             self.keys.purge, self.keys.uncounted],
            args,
        )
        raise_for_status(res)

    async def reassign_conversation(
        self, conversation_id: ConversationId, from_user: Username, to_user: Username,
        capacity: int,
    ) -> None:
        res = await self._run(
            scripts.REASSIGN,
            [self.keys.conv(conversation_id), self.keys.held(from_user),
             self.keys.held(to_user), self.keys.participants(conversation_id)],
            [conversation_id, from_user, to_user, capacity],
        )
        raise_for_status(res)

    async def list_participants(self, conversation_id: str) -> list[Username]:
        raw = await cast(Awaitable[set[bytes]],
                         self.redis.smembers(self.keys.participants(conversation_id)))
        return sorted(Username(u.decode()) for u in raw)

    async def list_conversations_with_handover(self, *states: str) -> list[Conversation]:
        """Live conversations whose handover is in one of `states` (police see only
        these).

        Reads only the `handover` field of each live conversation, SCAN_CHUNK per round
        trip with the event loop free in between, then loads the few that match: the
        consent-expiry job runs this every interval, and loading every live
        conversation whole (11,000 at the benchmark's load) held the event loop for
        about a second. An index by handover state would make it O(matches).
        """
        live = await self.list_live()
        wanted: list[str] = []
        for start in range(0, len(live), SCAN_CHUNK):
            chunk = live[start:start + SCAN_CHUNK]
            async with self.redis.pipeline(transaction=False) as pipe:
                for cid in chunk:
                    pipe.hget(self.keys.conv(cid), "handover")
                values: list[bytes | None] = await pipe.execute()
            wanted += [cid for cid, value in zip(chunk, values, strict=True)
                       if value is not None and value.decode() in states]
            await asyncio.sleep(0)
        return [c for c in await self.get_conversations(wanted)
                if c.handover.value in states]


def _rank(raw: bytes) -> int | None:
    rank = int(raw)
    return None if rank < 0 else rank


def _conversation(conversation_id: str, raw: dict[bytes, bytes]) -> Conversation:
    counsellor = str_field(raw, b"counsellor")
    officer = str_field(raw, b"police_officer")
    invited = str_field(raw, b"invited_by")
    return Conversation(
        id=ConversationId(conversation_id),
        state=State(raw[b"state"].decode()),
        created_at=int(raw[b"created_at"]),
        queued_at=int(raw[b"queued_at"]),
        last_seq=int(raw.get(b"last_seq", b"0")),
        language=str_field(raw, b"language"),
        counsellor=Username(counsellor) if counsellor else None,
        accepted_at=int_field(raw, b"accepted_at"),
        ended_at=int_field(raw, b"ended_at"),
        ended_by=str_field(raw, b"ended_by"),
        closed_at=int_field(raw, b"closed_at"),
        handover=Handover(str_field(raw, b"handover") or "none"),
        police_officer=Username(officer) if officer else None,
        police_share_history=raw.get(b"police_share") == b"1",
        police_epoch=int_field(raw, b"police_epoch"),
        police_from_seq=int_field(raw, b"police_from_seq"),
        police_expires=int_field(raw, b"police_expires"),
        police_consent=str_field(raw, b"police_consent"),
        urgent=raw.get(b"urgent") == b"1",
        age_band=str_field(raw, b"intake_age") or None,
        form_hint=str_field(raw, b"intake_form") or None,
        campaign=str_field(raw, b"campaign") or None,
        intake_step=str_field(raw, b"intake_step") or None,
        invited_by=Username(invited) if invited else None,
    )
