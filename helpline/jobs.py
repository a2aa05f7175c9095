"""Periodic jobs inside the server: APScheduler 3 runs them, a Redis lock makes one
process do each run.

Time is cut into slots of one interval; for each job and slot, the first process to
set `{prefix}lock:{job}:{slot}` (SET NX with an expiry of two intervals) runs it. A
crashed process's lock expires with its slot, so nothing waits on it. Every run is
logged in `{prefix}jobs` (job, slot, counts; never ids or content). A job whose pass
raises is logged by exception type and tried again at its next run; a failure of
one conversation inside a pass does not stop the others (services/retention.py).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, is_dataclass

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from helpline.appkeys import AUDIT, HANDOVER, INTAKE, RETENTION, SETTINGS, STORE
from helpline.services.audit import AuditLog
from helpline.services.handover import HandoverService
from helpline.services.intake import IntakeService
from helpline.services.retention import PURGE_BUDGET_S, PassResult, RetentionService
from helpline.storage.redis_store import RedisStore

log = logging.getLogger("helpline.jobs")


def job_bodies(retention: RetentionService, intake: IntakeService, audit: AuditLog,
               handover: HandoverService, interval: float = 60.0,
               ) -> dict[str, Callable[[], Awaitable[object]]]:
    async def audit_checkpoint() -> int:
        # 1 if the head had moved and a checkpoint was signed; the job log keeps no
        # more (the checkpoint itself is in the file and in Redis).
        return 0 if await audit.checkpoint() is None else 1

    async def purge() -> PassResult:
        # A purge run may loop over a backlog; it stops starting batches after half an
        # interval, so it is over before another process takes the next slot's lock.
        return await retention.purge_due(min(PURGE_BUDGET_S, interval / 2))

    return {
        "release_offline": intake.release_offline,
        "close_idle": retention.close_idle,
        "rollup": retention.rollup,
        "purge": purge,
        "retire_keys": retention.retire_keys,
        # Ends police parts whose consent expired (officer events check it too).
        "expire_consents": handover.expire_lapsed,
        # Signs the audit head when it moved: the window a Redis writer could rewrite
        # unseen is the entries since the last run (docs/security.md, "The audit log").
        "audit_checkpoint": audit_checkpoint,
    }


async def run_once(store: RedisStore, name: str, body: Callable[[], Awaitable[object]],
                   interval: float, now_ms: int, owner: str) -> bool:
    """Run `body` if this process wins the lock for the current slot; True if it ran."""
    interval_ms = int(interval * 1000)
    slot = now_ms // interval_ms
    if not await store.take_lock(name, slot, owner, 2 * interval_ms):
        return False
    entry: dict[str, object] = {"job": name, "slot": slot, "owner": owner}
    try:
        result = await body()
        entry["ok"] = True
        if is_dataclass(result) and not isinstance(result, type):
            entry.update(asdict(result))
        elif isinstance(result, list):
            entry["done"] = len(result)
        elif isinstance(result, int):
            entry["done"] = result
    except Exception as exc:
        entry.update(ok=False, error=type(exc).__name__)
        log.error("job %s failed: %s; it runs again at its next slot",
                  name, type(exc).__name__)
    await store.log_job(entry)
    return True


async def scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: start the scheduler with the app, stop it before Redis closes."""
    settings = app[SETTINGS]
    if not settings.jobs_enabled:
        yield
        return
    store, retention = app[STORE], app[RETENTION]
    owner = f"{os.getpid()}-{secrets.token_hex(4)}"
    scheduler = AsyncIOScheduler(timezone="UTC")
    interval = settings.job_interval_seconds
    for name, body in job_bodies(retention, app[INTAKE], app[AUDIT], app[HANDOVER],
                                 interval).items():
        async def tick(name: str = name, body: Callable[[], Awaitable[object]] = body
                       ) -> None:
            await run_once(store, name, body, interval, retention.clock.now_ms(), owner)
        scheduler.add_job(tick, "interval", seconds=interval, id=name, max_instances=1,
                          coalesce=True, misfire_grace_time=max(1, int(interval)))
    scheduler.start()
    yield
    scheduler.shutdown(wait=False)
