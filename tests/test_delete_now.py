"""A supervisor's "delete now": ends a live conversation (both sides told), audits
`delete_now`, and the next retention run purges it; refused to other roles."""

from __future__ import annotations

import asyncio
import json

import pytest

from helpline.client import ClientError
from helpline.domain.roles import Role
from tests.conftest import Harness

JOBS = {"HELPLINE_JOB_INTERVAL_SECONDS": "0.5"}  # default 30-day retention


async def _keys_of(harness: Harness, cid: str) -> list[bytes]:
    r = await harness.redis()
    found = [k async for k in r.scan_iter(match=f"{harness.prefix}conv:{cid}*")]
    await r.aclose()
    return found


async def _audit(harness: Harness) -> list[dict[str, object]]:
    r = await harness.redis()
    entries = [json.loads(x) for x in await r.lrange(f"{harness.prefix}audit", 0, -1)]
    await r.aclose()
    return entries


async def _gone(harness: Harness, cid: str) -> None:
    for _ in range(60):
        if not await _keys_of(harness, cid):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the conversation was not purged")


async def test_delete_now_ends_audits_and_the_next_run_purges(harness: Harness) -> None:
    harness.server(**JOBS)
    counsellor = await harness.staff("tom")
    sup = await harness.staff("sofie", Role.SUPERVISOR)
    youth = await harness.youth()
    cid = youth.conversation_id
    assert cid
    await counsellor.accept(cid)
    await youth.send(b"something")

    ok = await sup.call("delete_now", {"conversation_id": cid})
    assert ok == {"state": "ended", "due": True}
    # Told as on any end: the young person and the holder.
    await youth.wait_for("state", lambda d: d["state"] == "ended")
    await counsellor.wait_for("state", lambda d: d["conversation_id"] == cid
                              and d["state"] == "ended")
    entry = [e for e in await _audit(harness) if e["action"] == "delete_now"]
    assert len(entry) == 1
    assert entry[0]["actor"] == "sofie" and entry[0]["role"] == "supervisor"
    assert entry[0]["conversation_id"] == cid
    assert entry[0]["details"] == {"ended": True, "due": True}
    assert "something" not in json.dumps(entry)

    await _gone(harness, cid)
    await counsellor.wait_for("state", lambda d: d["state"] == "purged")
    assert await counsellor.held() == []
    assert any(e["action"] == "purge" and e["conversation_id"] == cid
               for e in await _audit(harness))
    # Gone: a second "delete now" finds nothing.
    with pytest.raises(ClientError) as err:
        await sup.call("delete_now", {"conversation_id": cid})
    assert err.value.code == "not_found"


async def test_delete_now_of_a_queued_and_of_a_closed_conversation(harness: Harness) -> None:
    harness.server(**JOBS)
    watcher = await harness.staff("wim")
    admin = await harness.staff("ada", Role.ADMIN)
    queued = await harness.youth()
    assert queued.conversation_id
    await watcher.wait_for("queue", lambda d: bool(d["joined"]))
    assert await admin.call("delete_now", {"conversation_id": queued.conversation_id}) \
        == {"state": "closed", "due": True}
    await queued.wait_for("state", lambda d: d["state"] == "closed")
    await watcher.wait_for("queue", lambda d: d["left"] == [queued.conversation_id])

    # Already closed (wrapped up): nobody is told again, it is just due now.
    closed = await harness.youth()
    cid = closed.conversation_id
    assert cid
    await watcher.accept(cid)
    await watcher.wrapup(cid, "other", "unknown", "none")
    assert await admin.call("delete_now", {"conversation_id": cid}) == \
        {"state": "closed", "due": True}
    await _gone(harness, cid)
    await _gone(harness, queued.conversation_id)
    details = [e["details"] for e in await _audit(harness) if e["action"] == "delete_now"]
    assert details == [{"ended": True, "due": True}, {"ended": False, "due": True}]


async def test_delete_now_is_refused_to_others_and_checked(harness: Harness) -> None:
    harness.server(**JOBS)
    youth = await harness.youth()
    cid = youth.conversation_id
    assert cid
    for role in (Role.COUNSELLOR, Role.POLICE):
        client = await harness.staff(f"n-{role.value}", role)
        with pytest.raises(ClientError) as err:
            await client.call("delete_now", {"conversation_id": cid})
        assert err.value.code == "forbidden"
    sup = await harness.staff("sam", Role.SUPERVISOR)
    for payload in ({}, {"conversation_id": "short"}, {"conversation_id": cid, "x": 1}):
        with pytest.raises(ClientError) as err:
            await sup.call("delete_now", payload)
        assert err.value.code == "invalid_payload"
    with pytest.raises(ClientError) as err:
        await sup.call("delete_now", {"conversation_id": "A" * 22})
    assert err.value.code == "not_found"
    await asyncio.sleep(1.2)  # two job runs: the refused calls left it alone
    assert await _keys_of(harness, cid) != []
    assert not [e for e in await _audit(harness) if e["action"] == "delete_now"]
