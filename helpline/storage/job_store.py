"""Job storage: which process runs a slot of a scheduled job, and the recent runs.

Mixed into RedisStore. This module owns

    {p}lock:{job}:{slot}    string which process runs this slot of a job (SET NX, TTL)
    {p}jobs                 list   the last 1,000 job runs (JSON), newest first
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import cast

from helpline.storage.base import StoreBase


class JobStoreMixin(StoreBase):
    async def take_lock(self, job: str, slot: int, owner: str, ttl_ms: int) -> bool:
        return bool(await self.redis.set(self.keys.lock(job, slot), owner, nx=True, px=ttl_ms))

    async def lock_ttl_ms(self, job: str, slot: int) -> int | None:
        """How long the lock of this slot still lives (ms); None if nobody took it."""
        ttl = int(await self.redis.pttl(self.keys.lock(job, slot)))
        return ttl if ttl > 0 else None

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
