"""What the admin screen shows about retention: the settings, when the jobs run next,
and how many conversations the next purge run will delete (a count, nothing else).

When the jobs run next is read from Redis, so it holds across processes: the purge
job's lock for a slot (storage/job_store.py) is set with a lifetime of two intervals
when a process starts that slot's run, so its remaining time says when that run
started; the process that ran it ticks again one interval later, in the next slot.
Another process may tick earlier in that slot, so the time is "at the latest".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from helpline.domain.retention import RetentionPolicy
from helpline.services.ports import Clock
from helpline.storage.redis_store import RedisStore

PURGE_JOB = "purge"


@dataclass(frozen=True)
class JobTiming:
    interval_s: float
    enabled: bool  # in this process (HELPLINE_JOBS)


class RetentionStatus:
    def __init__(self, store: RedisStore, clock: Clock, policy: RetentionPolicy,
                 jobs: JobTiming) -> None:
        self.store = store
        self.clock = clock
        self.policy = policy
        self.jobs = jobs

    async def next_run_at(self) -> int | None:
        """When the purge runs next (ms, at the latest), or None when no process has
        run it in this slot or the one before (jobs off everywhere, or just started)."""
        now = self.clock.now_ms()
        interval_ms = max(1, int(self.jobs.interval_s * 1000))
        slot = now // interval_ms
        for s in (slot, slot - 1):
            ttl = await self.store.lock_ttl_ms(PURGE_JOB, s)
            if ttl is not None:
                started = now - (2 * interval_ms - ttl)
                return max(now, started + interval_ms)
        return None

    async def read(self) -> dict[str, Any]:
        next_run = await self.next_run_at()
        until = next_run if next_run is not None else self.clock.now_ms()
        return {
            "retention_days": self.policy.days,
            "police_retention_days": self.policy.police_days,
            "idle_hours": self.policy.idle_hours,
            "job_interval_seconds": self.jobs.interval_s,
            "jobs_enabled": self.jobs.enabled,
            "next_run_at": next_run,
            "waiting_for_purge": await self.store.count_due(until),
        }
