"""Purge and idle-close in batches (issue 11, part 3): a backlog larger than one batch
is cleared in one job run, and the idle pass still closes exactly the idle ones."""

from __future__ import annotations

import asyncio
import time

from helpline.domain.audit import AuditAction
from helpline.domain.conversation import State
from helpline.domain.ids import ConversationId, new_conversation_id
from helpline.domain.retention import RetentionPolicy
from helpline.services.audit import AuditLog
from helpline.services.ports import SystemClock
from helpline.services.retention import BATCH, RetentionService
from helpline.storage.redis_store import RedisStore
from tests.conftest import Harness


async def _closed(store: RedisStore, n: int, now: int) -> list[ConversationId]:
    """`n` unanswered conversations, ended by the young person: closed, due at once."""
    sem = asyncio.Semaphore(32)

    async def one() -> ConversationId:
        async with sem:
            cid = new_conversation_id()
            await store.create_conversation(cid, "h", now, "nl")
            await store.end_conversation(cid, {State.QUEUED}, None, "youth", now, (0, 0))
            return cid

    return list(await asyncio.gather(*(one() for _ in range(n))))


async def test_a_backlog_larger_than_a_batch_is_purged_in_one_run(harness: Harness) -> None:
    # The landed pass purged BATCH (500) per job run: 10,000 took 20 runs.
    store = harness.store()
    try:
        clock = SystemClock()
        n = 2 * BATCH + 7
        cids = await _closed(store, n, clock.now_ms())
        audit = AuditLog(store, clock)
        await audit.record("anna", "counsellor", AuditAction.ACCEPT, cids[0])
        retention = RetentionService(store, None, clock, audit, RetentionPolicy(days=0))
        result = await retention.purge_due()
        assert (result.done, result.failed) == (n, 0)
        # The purge entries are appended a batch at a time, still one chain: each
        # entry follows the one before, and the head counts them all.
        check = await audit.verify(checkpoint_lines=[])
        assert check.ok and check.entries == n + 1, check
        assert await store.get_audit_head() == (n + 1, (await audit.entries(n, 1))[0].hash)
        assert await store.list_due(clock.now_ms(), 10) == []
        r = await harness.redis()
        assert await r.keys(f"{harness.prefix}conv:*") == []
        entries = await r.lrange(f"{harness.prefix}audit", 0, -1)
        await r.aclose()
        # Still one audit entry per purged conversation.
        assert sum(b'"purge"' in e for e in entries) == n
        assert all(any(c.encode() in e for e in entries) for c in cids[:20])
        # Nothing left: the next run does nothing.
        assert (await retention.purge_due()).done == 0
    finally:
        await store.close()


async def test_a_purge_run_stops_at_its_time_budget(harness: Harness) -> None:
    store = harness.store()
    try:
        clock = SystemClock()
        await _closed(store, BATCH + 3, clock.now_ms())
        retention = RetentionService(store, None, clock, AuditLog(store, clock),
                                     RetentionPolicy(days=0))
        # A spent budget still does one batch, then leaves the rest for the next run.
        assert (await retention.purge_due(budget_s=0)).done == BATCH
        assert (await retention.purge_due(budget_s=0)).done == 3
    finally:
        await store.close()


async def test_the_idle_pass_closes_only_idle_conversations(harness: Harness) -> None:
    store = harness.store()
    try:
        clock = SystemClock()
        now = clock.now_ms()
        two_hours_ago = now - 2 * 3600 * 1000
        idle = [new_conversation_id() for _ in range(BATCH + 5)]
        fresh = [new_conversation_id() for _ in range(3)]
        offline = new_conversation_id()
        for cid in idle:
            await store.create_conversation(cid, "h", two_hours_ago, "nl")
        for cid in fresh:
            await store.create_conversation(cid, "h", now, "nl")
        # Left while the helpline was closed: waits for the opening, however long.
        await store.create_conversation(offline, "h", two_hours_ago, "nl", State.OFFLINE)
        retention = RetentionService(store, None, clock, AuditLog(store, clock),
                                     RetentionPolicy(idle_hours=1))
        started = time.monotonic()
        result = await retention.close_idle()
        assert (result.done, result.failed) == (len(idle), 0)
        assert time.monotonic() - started < 10
        live = set(await store.list_live())
        assert live == {*fresh, offline}
        assert set(await store.list_queue()) == set(fresh)
        for conv in await store.get_conversations(idle[:10]):
            assert conv.state is State.CLOSED and conv.ended_by == "timeout"
        assert (await retention.close_idle()).done == 0
    finally:
        await store.close()
