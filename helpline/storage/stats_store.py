"""Statistics storage: the weekly counters, and which conversations still wait for
the roll-up.

Mixed into RedisStore. This module owns

    {p}uncounted            set    closed conversations not yet counted in the statistics
                                   (added by the scripts that close a conversation)
    {p}stats:{week}         hash   "form|age|language|campaign|referral|police" -> count

and sets `counted` in conv:{id} in the roll-up script, so no conversation is counted
twice (the purge counts one the roll-up missed).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import cast

from helpline.domain.ids import ConversationId, is_conversation_id
from helpline.storage import scripts
from helpline.storage.base import StoreBase


class StatsStoreMixin(StoreBase):
    async def list_uncounted(self, limit: int) -> list[ConversationId]:
        ids = cast(list[bytes], await self.redis.srandmember(self.keys.uncounted, limit))
        return [ConversationId(i.decode()) for i in ids or []]

    async def count_conversation(self, conversation_id: ConversationId, week: str,
                                 cell: str) -> None:
        await self._script(scripts.ROLLUP)(
            keys=[self.keys.conv(conversation_id), self.keys.uncounted,
                  self.keys.stats(week)], args=[conversation_id, cell])

    async def get_stats(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        async for key in self.redis.scan_iter(match=self.keys.stats_pattern, count=500):
            week = key.decode().rsplit(":", 1)[1]
            raw = await cast(Awaitable[dict[bytes, bytes]], self.redis.hgetall(key))
            out[week] = {k.decode(): int(v) for k, v in raw.items()}
        return out

    async def list_uncounted_closed_at(self) -> list[int]:
        """`closed_at` (ms) of every conversation still waiting to be counted.

        One without a `closed_at` (gone, or never closed) is left out: the roll-up
        drops a gone one uncounted and counts any other in the week it runs in,
        which is never a week the export already shows."""
        ids = [i.decode() for i in await cast(Awaitable[set[bytes]],
                                              self.redis.smembers(self.keys.uncounted))]
        ids = [i for i in ids if is_conversation_id(i)]
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid in ids:
                pipe.hget(self.keys.conv(cid), "closed_at")
            raw = cast(list[bytes | None], await pipe.execute())
        return [int(r) for r in raw if r is not None and r.isdigit()]
