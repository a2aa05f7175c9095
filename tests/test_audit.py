"""The audit log: every staff action on a conversation, hash-chained, no content."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import aiohttp
import pytest

from helpline.client import login
from helpline.domain.audit import AuditEntry, verify_chain
from helpline.domain.roles import Role
from tests.conftest import PASSWORD, Harness, ServerProcess


def _chain(n: int) -> list[AuditEntry]:
    entries, prev = [], "0" * 64
    for i in range(n):
        entry = AuditEntry(i=i, at=1000 + i, actor=f"staff{i}", role="counsellor",
                           action="accept", conversation_id="C" * 22, prev=prev).sealed()
        entries.append(entry)
        prev = entry.hash
    return entries


def test_an_intact_chain_verifies() -> None:
    assert verify_chain(_chain(5)).ok


@pytest.mark.parametrize(("tamper", "broken_at"), [
    ("edit", 2), ("delete", 2), ("reorder", 1), ("insert", 3), ("edit_last", 4)])
def test_any_change_names_the_first_broken_entry(tamper: str, broken_at: int) -> None:
    entries = _chain(5)
    if tamper == "edit":
        entries[2] = AuditEntry(**{**entries[2].body(), "actor": "someone else",
                                   "hash": entries[2].hash})
    elif tamper == "delete":
        del entries[2]
    elif tamper == "reorder":
        entries[1], entries[2] = entries[2], entries[1]
    elif tamper == "insert":
        entries.insert(3, AuditEntry(**{**entries[2].body(), "i": 3}).sealed())
    elif tamper == "edit_last":
        entries[4] = AuditEntry(**{**entries[4].body(), "details": {"x": 1},
                                   "hash": entries[4].hash})
    check = verify_chain(entries)
    assert not check.ok and check.first_broken == broken_at, check


async def _run(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "helpline", *args], env=server.env,
        capture_output=True, text=True, timeout=60)


async def test_staff_actions_are_logged_and_the_cli_catches_tampering(
    harness: Harness, server: ServerProcess
) -> None:
    supervisor = await harness.staff("sofie", Role.SUPERVISOR)
    first = await harness.staff("tom")
    await harness.add_staff("ulla")
    youth = await harness.youth()
    cid = youth.conversation_id
    assert cid
    await youth.send(b"secret words")
    await first.accept(cid)
    await supervisor.reassign(cid, "ulla")
    second = await harness.staff("ulla", create=False)
    await second.wrapup(cid, "labour", "18_23", "labour_inspectorate")

    verify = await _run(server, "audit", "verify")
    assert verify.returncode == 0, verify.stderr
    assert "intact: 3 entries" in verify.stdout
    shown = [json.loads(line) for line in (await _run(server, "audit", "show")).stdout.split()]
    assert [(e["actor"], e["action"]) for e in shown] == [
        ("tom", "accept"), ("sofie", "reassign"), ("ulla", "wrapup")]
    assert shown[1]["details"] == {"from": "tom", "to": "ulla"}
    assert all(e["conversation_id"] == cid for e in shown)
    assert "secret words" not in json.dumps(shown)

    # An insider edits the middle entry in Redis: the CLI names it.
    r = await harness.redis()
    forged = {**shown[1], "actor": "nobody"}
    await r.lset(f"{harness.prefix}audit", 1, json.dumps(forged))
    await r.aclose()
    broken = await _run(server, "audit", "verify")
    assert broken.returncode == 1
    assert "BROKEN at entry 1" in broken.stderr


async def test_deleting_the_newest_entries_is_caught(
    harness: Harness, server: ServerProcess
) -> None:
    counsellor = await harness.staff("vic")
    for _ in range(2):
        youth = await harness.youth()
        assert youth.conversation_id
        await counsellor.accept(youth.conversation_id)
    r = await harness.redis()
    await r.rpop(f"{harness.prefix}audit")
    await r.aclose()
    broken = await _run(server, "audit", "verify")
    assert broken.returncode == 1 and "BROKEN at entry 1" in broken.stderr


async def test_only_admins_read_the_audit_log_over_http(
    harness: Harness, server: ServerProcess
) -> None:
    await harness.add_staff("wendy", Role.ADMIN)
    counsellor = await harness.staff("xander")
    youth = await harness.youth()
    assert youth.conversation_id
    await counsellor.accept(youth.conversation_id)
    admin_token = (await login(server.url, "wendy", PASSWORD))["token"]
    assert counsellor.token
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/api/audit",
                            headers={"Authorization": f"Bearer {admin_token}"}) as resp:
            assert resp.status == 200
            entries = (await resp.json())["entries"]
            assert [(e["actor"], e["action"]) for e in entries] == [("xander", "accept")]
        async with http.get(f"{server.url}/api/audit/verify",
                            headers={"Authorization": f"Bearer {admin_token}"}) as resp:
            assert await resp.json() == {"ok": True, "entries": 1, "first_broken": None,
                                         "reason": None}
        async with http.get(f"{server.url}/api/audit",
                            headers={"Authorization": f"Bearer {counsellor.token}"}) as resp:
            assert resp.status == 403
            assert (await resp.json())["error"]["code"] == "forbidden"
        async with http.get(f"{server.url}/api/audit") as resp:
            assert resp.status == 401
