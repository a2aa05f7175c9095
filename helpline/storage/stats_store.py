"""Statistics storage beyond redis_store.py: which weeks still wait for a roll-up.

Mixed into RedisStore (which provides `self.redis` and `self.keys`).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, cast

from helpline.domain.ids import is_conversation_id

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from helpline.storage.keys import Keys


class StatsStoreMixin:
    redis: aioredis.Redis
    keys: Keys

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
