"""`GET /api/retention`: the retention settings, when the jobs run next (from the job
locks in Redis) and how many conversations the next purge takes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from helpline.client import login
from helpline.domain.roles import Role
from tests.conftest import PASSWORD, Harness, ServerProcess


async def _get(srv: ServerProcess, token: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, \
            http.get(f"{srv.url}/api/retention", headers=headers) as resp:
        return resp.status, await resp.json()


async def _token(harness: Harness, srv: ServerProcess, name: str, role: Role) -> str:
    await harness.add_staff(name, role)
    return str((await login(srv.url, name, PASSWORD))["token"])


async def test_settings_next_run_and_waiting_count(harness: Harness) -> None:
    srv = harness.server(HELPLINE_JOB_INTERVAL_SECONDS="1", HELPLINE_RETENTION_DAYS="7",
                         HELPLINE_POLICE_RETENTION_DAYS="100", HELPLINE_IDLE_HOURS="5")
    admin = await _token(harness, srv, "ans", Role.ADMIN)
    await asyncio.sleep(1.5)  # a purge run has happened: its lock says when
    status, body = await _get(srv, admin)
    assert status == 200
    now = int(time.time() * 1000)
    assert {k: v for k, v in body.items() if k != "next_run_at"} == {
        "retention_days": 7, "police_retention_days": 100, "idle_hours": 5,
        "job_interval_seconds": 1.0, "jobs_enabled": True, "waiting_for_purge": 0}
    assert isinstance(body["next_run_at"], int)
    assert now - 100 <= body["next_run_at"] <= now + 1100

    # Two conversations due at once (the young person's "delete now"), one not yet.
    r = await harness.redis()
    await r.zadd(f"{harness.prefix}purge", {"A" * 22: now - 10, "B" * 22: now,
                                            "C" * 22: now + 10 * 24 * 3600 * 1000})
    await r.aclose()
    sup = await _token(harness, srv, "stan", Role.SUPERVISOR)
    status, body = await _get(srv, sup)
    assert status == 200 and body["waiting_for_purge"] == 2


async def test_jobs_off_and_who_may_read(harness: Harness) -> None:
    srv = harness.server(HELPLINE_JOBS="off")
    admin = await _token(harness, srv, "anne", Role.ADMIN)
    status, body = await _get(srv, admin)
    assert status == 200
    assert body["jobs_enabled"] is False and body["next_run_at"] is None
    assert body["retention_days"] == 30 and body["police_retention_days"] == 365
    assert body["idle_hours"] == 24 and body["job_interval_seconds"] == 60.0
    for role in (Role.COUNSELLOR, Role.POLICE):
        token = await _token(harness, srv, f"r-{role.value}", role)
        status, body = await _get(srv, token)
        assert status == 403 and body["error"]["code"] == "forbidden"
    status, body = await _get(srv, None)
    assert status == 401 and body["error"]["code"] == "unauthorized"
    status, body = await _get(srv, "not-a-token")
    assert status == 401
