"""Retention storage: closing idle conversations, and purging closed ones when due.

Mixed into RedisStore. This module owns

    {p}purge                zset   conversation ids, scored by when they are purged (ms)

and deletes, in one script per conversation, every key of it: conv:{id} and its
:msgs, :dedup, :e2e, :wraps, :who and :nonces, its return:{hmac} record, and its ids
in queue, live, offline, held:{username} and uncounted (counting it in stats:{week}
first if the roll-up has not yet). When the purge is due is the domain's retention
policy; the scripts that close a conversation schedule it (scripts._SCHEDULE_PURGE).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import cast

from redis.exceptions import ResponseError

from helpline.domain.ids import ConversationId
from helpline.storage import scripts
from helpline.storage.base import StoreBase, raise_for_status

REWRITE_WAIT_S = 30.0


@dataclass(frozen=True)
class PurgeItem:
    """One due conversation as read before its purge (the script re-checks it)."""
    conversation_id: ConversationId
    counsellor: str | None
    week: str
    cell: str
    return_lookup: str | None


class RetentionStoreMixin(StoreBase):
    async def close_idle(self, conversation_id: ConversationId, counsellor: str | None,
                         now_ms: int, idle_ms: int, retention: tuple[int, int]) -> bool:
        """Close the conversation if nothing happened in it for `idle_ms`."""
        held = self.keys.held(counsellor) if counsellor else self.keys.held("nobody")
        res = await self._run(
            scripts.CLOSE_IDLE,
            [self.keys.conv(conversation_id), self.keys.queue, self.keys.live, held,
             self.keys.purge, self.keys.uncounted, self.keys.offline],
            [conversation_id, now_ms, idle_ms, *retention])
        return res[0] == b"ok"

    async def purge_now(self, conversation_id: ConversationId, now_ms: int) -> bool:
        """Make the conversation due at once; False when the police were let in."""
        res = await self._run(scripts.PURGE_NOW,
                              [self.keys.conv(conversation_id), self.keys.purge],
                              [conversation_id, now_ms])
        if res[0] == b"police":
            return False
        raise_for_status(res)
        return True

    async def list_due(self, now_ms: int, limit: int) -> list[ConversationId]:
        ids = cast(list[bytes], await self.redis.zrangebyscore(
            self.keys.purge, "-inf", now_ms, start=0, num=limit))
        return [ConversationId(i.decode()) for i in ids]

    async def count_due(self, until_ms: int) -> int:
        """How many conversations are due for purging by `until_ms` (a count only)."""
        return int(await self.redis.zcount(self.keys.purge, "-inf", until_ms))

    async def get_conversation_fields(self, conversation_id: str) -> dict[str, str]:
        raw = await cast(Awaitable[dict[bytes, bytes]],
                         self.redis.hgetall(self.keys.conv(conversation_id)))
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def get_conversations_fields(self, ids: Sequence[str], fields: Sequence[str]
                                       ) -> list[dict[str, str]]:
        """The named fields of each conversation (those set), in one pipelined round
        trip. Only the fields asked for: a batch of whole hashes costs several times
        more to parse."""
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid in ids:
                pipe.hmget(self.keys.conv(cid), list(fields))
            rows: list[list[bytes | None]] = await pipe.execute()
        return [{k: v.decode() for k, v in zip(fields, raw, strict=True) if v is not None}
                for raw in rows]

    async def get_idle_candidates(self, ids: Sequence[str]
                                  ) -> list[tuple[str | None, int, str | None]]:
        """(state, last activity ms, counsellor) per conversation, in one round trip.

        The close-idle job reads these to pick the few worth a script; the script
        re-checks everything, so a stale read only costs a skipped call.
        """
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid in ids:
                pipe.hmget(self.keys.conv(cid), "state", "queued_at", "last_activity",
                           "accepted_at", "counsellor")
            rows: list[list[bytes | None]] = await pipe.execute()
        out: list[tuple[str | None, int, str | None]] = []
        for state, *times, counsellor in rows:
            last = max(int(t) for t in [b"0", *(t for t in times if t)])
            out.append((state.decode() if state else None, last,
                        counsellor.decode() if counsellor else None))
        return out

    async def close_idle_many(self, items: Sequence[tuple[ConversationId, str | None]],
                              now_ms: int, idle_ms: int, retention: tuple[int, int]
                              ) -> list[bool]:
        """`close_idle` for each (id, counsellor), pipelined: one round trip for all.

        Each script stays atomic on its own; a pipeline only saves the round trips.
        """
        if not items:
            return []
        script = self._script(scripts.CLOSE_IDLE)
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid, counsellor in items:
                held = self.keys.held(counsellor) if counsellor else self.keys.held("nobody")
                await script(keys=[self.keys.conv(cid), self.keys.queue, self.keys.live, held,
                                   self.keys.purge, self.keys.uncounted, self.keys.offline],
                             args=[cid, now_ms, idle_ms, *retention], client=pipe)
            res: list[list[bytes]] = await pipe.execute()
        return [r[0] == b"ok" for r in res]

    async def purge_conversations(self, items: Sequence[PurgeItem], now_ms: int
                                  ) -> list[bool]:
        """`purge_conversation` for each item, pipelined: one round trip per batch.

        Each conversation is still deleted by one atomic script (re-checking that it is
        due and unchanged); only the round trips are shared.
        """
        if not items:
            return []
        script = self._script(scripts.PURGE)
        async with self.redis.pipeline(transaction=False) as pipe:
            for item in items:
                await script(keys=self._purge_keys(item.conversation_id, item.counsellor,
                                                   item.week, item.return_lookup),
                             args=[item.conversation_id, item.counsellor or "", now_ms,
                                   item.cell], client=pipe)
            res: list[list[bytes]] = await pipe.execute()
        return [r[0] == b"ok" for r in res]

    def _purge_keys(self, cid: str, counsellor: str | None, week: str,
                    return_lookup: str | None) -> list[str]:
        held = self.keys.held(counsellor) if counsellor else self.keys.held("nobody")
        return [
            self.keys.conv(cid), self.keys.msgs(cid), self.keys.dedup(cid), self.keys.e2e(cid),
            self.keys.wraps(cid), self.keys.participants(cid), self.keys.nonces(cid),
            self.keys.purge, self.keys.live, self.keys.queue, held, self.keys.uncounted,
            self.keys.stats(week),
            self.keys.return_code(return_lookup) if return_lookup else f"{self.keys.prefix}none",
            self.keys.offline]

    async def purge_conversation(self, conversation_id: ConversationId,
                                 counsellor: str | None, now_ms: int, week: str,
                                 cell: str, return_lookup: str | None = None) -> bool:
        """Delete every key of a due conversation at once (counting it first if needed).

        False if it is no longer due or changed hands since it was read.
        """
        res = await self._run(scripts.PURGE,
                              self._purge_keys(conversation_id, counsellor, week, return_lookup),
                              [conversation_id, counsellor or "", now_ms, cell])
        return res[0] == b"ok"

    async def rewrite_persistence(self) -> None:
        """Make Redis rewrite its AOF and snapshot, so deleted bytes leave its files.

        A rewrite already running started before these deletions, so its files may
        still hold them: wait for it to end (up to REWRITE_WAIT_S) and start a fresh
        one, rather than fail (two purge runs close together did).
        """
        deadline = time.monotonic() + REWRITE_WAIT_S
        await _when_idle(self.redis.bgrewriteaof, deadline)
        await _when_idle(lambda: self.redis.bgsave(schedule=True), deadline)


async def _when_idle(start: Callable[[], Awaitable[object]], deadline: float) -> None:
    """Start a background rewrite or save, waiting out one already running."""
    while True:
        try:
            await start()
            return
        except ResponseError as exc:
            if "already in progress" not in str(exc) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
