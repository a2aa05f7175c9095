"""Retention jobs: close idle conversations, count closed ones, purge due ones, and
shred team keys whose conversations are all past retention. Each is one pass over
what is due; the scheduler (helpline/jobs.py) runs them, one process per run.

A failure on one conversation is logged by exception type only (no ids, no content)
and the pass goes on; that conversation stays due and is tried again next run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
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
from helpline.storage.retention_store import PurgeItem

log = logging.getLogger("helpline.retention")

BATCH = 500
READ_CHUNK = 200  # live conversations read per round trip by the idle pass
# A purge run stops starting new batches after this long (the default job interval is
# 60 s), so one run cannot hold Redis busy past its own slot; the rest waits a run.
PURGE_BUDGET_S = 20.0
# What the purge reads of a conversation: who holds it, its return-code look-up, and
# what its statistics cell needs (_cell).
PURGE_FIELDS = ("counsellor", "return_lookup", "closed_at", "wrapup_form",
                "wrapup_age_band", "language", "campaign", "wrapup_referral",
                "police_involved")
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
                 on_live_changed: Callable[[Sequence[ConversationId]], Awaitable[None]]
                 | None = None) -> None:
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.audit = audit
        self.policy = policy
        # Tell queue watchers and the overview when a pass closed (the ids) or purged.
        self.on_live_changed = on_live_changed

    @property
    def _retention_ms(self) -> tuple[int, int]:
        return (self.policy.days * DAY_MS, self.policy.police_days * DAY_MS)

    async def close_idle(self) -> PassResult:
        """Close conversations nothing happened in for `idle_hours`.

        A few round trips for the whole pass, not two per live conversation:
        pipelined reads of the live conversations' times, READ_CHUNK at a time, then
        one pipeline of the close script per BATCH of those that look idle (the script
        re-checks each atomically). Between chunks the event loop serves chats: one
        read of 11,000 conversations at once held it for about a second, which showed
        as a p99 delivery of 1.2 s in bench/load.py.
        """
        now, failed = self.clock.now_ms(), 0
        idle_ms = self.policy.idle_hours * 3600 * 1000
        live = await self.store.list_live()
        due: list[tuple[ConversationId, str | None]] = []
        for start in range(0, len(live), READ_CHUNK):
            chunk_ids = live[start:start + READ_CHUNK]
            for cid, (state, last, counsellor) in zip(
                    chunk_ids, await self.store.get_idle_candidates(chunk_ids), strict=True):
                if state is not None and state not in ("closed", "offline") \
                        and last + idle_ms <= now:
                    due.append((cid, counsellor))
            await asyncio.sleep(0)
        closed: list[tuple[ConversationId, str | None]] = []
        for start in range(0, len(due), BATCH):
            chunk = due[start:start + BATCH]
            try:
                results = await self.store.close_idle_many(chunk, now, idle_ms,
                                                           self._retention_ms)
            except Exception as exc:  # one bad batch must not stop the pass
                failed += len(chunk)
                log.error("closing idle conversations failed: %s", type(exc).__name__)
                continue
            closed += [item for item, ok in zip(chunk, results, strict=True) if ok]
        for cid, counsellor in closed:
            await self._tell(cid, counsellor, State.CLOSED.value)
        if closed and self.on_live_changed is not None:
            await self.on_live_changed([cid for cid, _ in closed])
        return PassResult(len(closed), failed)

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

    async def purge_due(self, budget_s: float = PURGE_BUDGET_S) -> PassResult:
        """Delete every due conversation, then have Redis rewrite its files once.

        Batches of BATCH: one pipelined read and one pipeline of purge scripts each
        (every conversation still deleted by its own atomic script). The pass goes on
        batch after batch while work is due and `budget_s` has not run out, so a
        backlog is cleared in one run rather than BATCH per job interval.
        """
        now, done, failed = self.clock.now_ms(), 0, 0
        deadline = time.monotonic() + budget_s
        while True:
            ids = await self.store.list_due(now, BATCH)
            batch_done, batch_failed = await self._purge_batch(ids, now)
            done, failed = done + batch_done, failed + batch_failed
            # Stop when nothing more is due, or a batch made no progress (what is left
            # failed or changed hands: the next run tries it again), or time is up.
            if len(ids) < BATCH or batch_done == 0 or time.monotonic() >= deadline:
                break
        if done:
            await self.store.rewrite_persistence()
            if self.on_live_changed is not None:
                await self.on_live_changed([])
        return PassResult(done, failed)

    async def _purge_batch(self, ids: list[ConversationId], now: int) -> tuple[int, int]:
        failed = 0
        items: list[PurgeItem] = []
        try:
            rows = await self.store.get_conversations_fields(ids, PURGE_FIELDS)
        except Exception as exc:
            log.error("purging conversations failed: %s", type(exc).__name__)
            return 0, len(ids)
        for cid, fields in zip(ids, rows, strict=True):
            try:
                week, cell = await self._cell(cid, fields)
            except Exception as exc:
                failed += 1
                log.error("purging a conversation failed: %s", type(exc).__name__)
                continue
            items.append(PurgeItem(cid, fields.get("counsellor") or None, week, cell,
                                   fields.get("return_lookup") or None))
        try:
            results = await self.store.purge_conversations(items, now)
        except Exception as exc:
            log.error("purging conversations failed: %s", type(exc).__name__)
            return 0, failed + len(items)
        purged = [item for item, ok in zip(items, results, strict=True) if ok]
        try:
            await self.audit.record_many("system", "system", AuditAction.PURGE,
                                         [item.conversation_id for item in purged])
        except Exception as exc:
            log.error("recording a purge failed: %s", type(exc).__name__)
        for item in purged:
            try:
                await self._tell(item.conversation_id, item.counsellor, "purged")
            except Exception as exc:
                log.error("telling of a purge failed: %s", type(exc).__name__)
        return len(purged), failed

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
