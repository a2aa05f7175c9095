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

from collections.abc import Awaitable
from typing import cast

from helpline.domain.ids import ConversationId
from helpline.storage import scripts
from helpline.storage.base import StoreBase, raise_for_status


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

    async def get_conversation_fields(self, conversation_id: str) -> dict[str, str]:
        raw = await cast(Awaitable[dict[bytes, bytes]],
                         self.redis.hgetall(self.keys.conv(conversation_id)))
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def purge_conversation(self, conversation_id: ConversationId,
                                 counsellor: str | None, now_ms: int, week: str,
                                 cell: str, return_lookup: str | None = None) -> bool:
        """Delete every key of a due conversation at once (counting it first if needed).

        False if it is no longer due or changed hands since it was read.
        """
        cid = conversation_id
        held = self.keys.held(counsellor) if counsellor else self.keys.held("nobody")
        res = await self._run(scripts.PURGE, [
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
