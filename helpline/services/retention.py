"""Retention jobs: close idle conversations, count closed ones, purge due ones, and
shred team keys whose conversations are all past retention. Each is one pass over
what is due; the scheduler (helpline/jobs.py) runs them, one process per run.

A failure on one conversation is logged by exception type only (no ids, no content)
and the pass goes on; that conversation stays due and is tried again next run.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from helpline.domain.audit import AuditAction
from helpline.domain.conversation import State
from helpline.domain.ids import ConversationId, Username
from helpline.domain.retention import (
    DAY_MS,
    RetentionPolicy,
    export_rows,
    iso_week,
    rows_to_csv,
    stats_cell,
)
from helpline.services.audit import AuditLog
from helpline.services.ports import Clock, Notifier
from helpline.storage.redis_store import RedisStore

log = logging.getLogger("helpline.retention")

BATCH = 500
# A week is exported only once it ended this long ago, on top of the roll-up having
# counted every conversation closed in it (export): the margin covers a close that
# was in flight across the week's end and clocks of server processes that differ.
SETTLE_MS = 3600 * 1000


@dataclass(frozen=True)
class PassResult:
    done: int
    failed: int


class RetentionService:
    def __init__(self, store: RedisStore, notifier: Notifier | None, clock: Clock,
                 audit: AuditLog, policy: RetentionPolicy,
                 on_live_changed: Callable[[], Awaitable[None]] | None = None) -> None:
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.audit = audit
        self.policy = policy
        # Re-announce the queue and overview when a pass closed or purged live chats.
        self.on_live_changed = on_live_changed

    @property
    def _retention_ms(self) -> tuple[int, int]:
        return (self.policy.days * DAY_MS, self.policy.police_days * DAY_MS)

    async def close_idle(self) -> PassResult:
        """Close conversations nothing happened in for `idle_hours`."""
        now, done, failed = self.clock.now_ms(), 0, 0
        for cid in await self.store.list_live():
            try:
                conv = await self.store.get_conversation(cid)
                if conv is None:
                    continue
                if await self.store.close_idle(cid, conv.counsellor, now,
                                               self.policy.idle_hours * 3600 * 1000,
                                               self._retention_ms):
                    done += 1
                    await self._tell(cid, conv.counsellor, State.CLOSED.value)
            except Exception as exc:  # one bad conversation must not stop the pass
                failed += 1
                log.error("closing an idle conversation failed: %s", type(exc).__name__)
        if done and self.on_live_changed is not None:
            await self.on_live_changed()
        return PassResult(done, failed)

    async def rollup(self) -> PassResult:
        """Count each closed conversation once into its statistics cell."""
        done, failed = 0, 0
        for cid in await self.store.list_uncounted(BATCH):
            try:
                week, cell = await self._cell(cid)
                await self.store.count_conversation(cid, week, cell)
                done += 1
            except Exception as exc:
                failed += 1
                log.error("counting a conversation failed: %s", type(exc).__name__)
        return PassResult(done, failed)

    async def purge_due(self) -> PassResult:
        """Delete every due conversation, then have Redis rewrite its files."""
        now, done, failed = self.clock.now_ms(), 0, 0
        for cid in await self.store.list_due(now, BATCH):
            try:
                fields = await self.store.get_conversation_fields(cid)
                counsellor = fields.get("counsellor") or None
                week, cell = await self._cell(cid, fields)
                if await self.store.purge_conversation(cid, counsellor, now, week, cell,
                                                       fields.get("return_lookup") or None):
                    done += 1
                    await self.audit.record("system", "system", AuditAction.PURGE, cid)
                    await self._tell(cid, counsellor, "purged")
            except Exception as exc:
                failed += 1
                log.error("purging a conversation failed: %s", type(exc).__name__)
        if done:
            await self.store.rewrite_persistence()
            if self.on_live_changed is not None:
                await self.on_live_changed()
        return PassResult(done, failed)

    async def retire_keys(self) -> list[str]:
        """Shred team periods replaced longer ago than the longest retention."""
        now = self.clock.now_ms()
        retired = await self.store.get_retired_periods()
        out = []
        for period, replaced_at in (await self.store.get_team_replaced()).items():
            if period in retired or replaced_at + self.policy.longest_days * DAY_MS > now:
                continue
            await self.store.retire_period(period)
            await self.audit.record("system", "system", AuditAction.KEY_RETIRED, None,
                                    {"period": period})
            out.append(period)
        return out

    async def export(self, fmt: str) -> str | list[dict[str, object]]:
        """The statistics of settled weeks, small cells suppressed (domain/retention).

        A week is settled when it ended at least SETTLE_MS ago and no conversation
        closed in it (or earlier) still waits for the roll-up: from then on its counts
        can never change, so two exports cannot be differenced to learn about one late
        counted conversation. A conversation closes into the week of its `closed_at`
        and is queued for counting in the same atomic step, so the oldest waiting
        `closed_at` bounds every week that can still change.
        """
        now = self.clock.now_ms()
        waiting = await self.store.list_uncounted_closed_at()
        settled_before = min([now - SETTLE_MS, *waiting])
        rows = export_rows(await self.store.get_stats(), settled_before)
        if fmt == "csv":
            return rows_to_csv(rows)
        return [{"week": r.week, "dimension": r.dimension, "week_total": r.total,
                 "counts": r.counts} for r in rows]

    async def _cell(self, cid: ConversationId,
                    fields: dict[str, str] | None = None) -> tuple[str, str]:
        if fields is None:
            fields = await self.store.get_conversation_fields(cid)
        closed_at = fields.get("closed_at")
        week = iso_week(int(closed_at) if closed_at else self.clock.now_ms())
        cell = stats_cell(fields.get("wrapup_form"), fields.get("wrapup_age_band"),
                          fields.get("language"), fields.get("campaign"),
                          fields.get("wrapup_referral"), fields.get("police_involved") == "1")
        return week, cell

    async def _tell(self, cid: ConversationId, counsellor: str | None, state: str) -> None:
        if self.notifier is None:
            return
        data = {"conversation_id": cid, "state": state}
        await self.notifier.to_youth(cid, "state", data)
        if counsellor:
            await self.notifier.to_staff(Username(counsellor), "state", data)
