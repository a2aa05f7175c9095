"""Redis killed and restarted mid-chat, with two server processes on Redis fan-out.

An append-only Redis of its own (the embedded redis-server, in a folder of this test)
is killed with SIGKILL while a young person on one process talks to a counsellor on
the other. While it is down every refusal is `unavailable` (sockets, a staff connect,
HTTP) and nothing is logged with a traceback; when it is back, the first requests
succeed (no stale pooled connection fails), delivery across processes works again
within a second, every connected client is told to re-sync (`resync`), and no
message that was accepted is lost.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import aiohttp
import pytest
import socketio

from helpline.client import ClientError, StaffClient, YouthClient
from helpline.embedded_redis import EmbeddedRedis, start_embedded_redis
from tests.conftest import ALLOWED_ORIGIN, PASSWORD, Harness


def _kill(redis: EmbeddedRedis) -> None:
    assert redis.process is not None
    os.kill(redis.process.pid, signal.SIGKILL)
    redis.process.wait()


async def _healthz(url: str, n: int) -> list[int]:
    async with aiohttp.ClientSession() as http:
        async def one() -> int:
            async with http.get(f"{url}/healthz") as resp:
                return resp.status
        return list(await asyncio.gather(*(one() for _ in range(n))))


async def _login_status(url: str, username: str) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.post(
            f"{url}/api/login", json={"username": username, "password": PASSWORD}) as resp:
        return resp.status, await resp.json()


@pytest.fixture
async def own_redis(tmp_path: Path) -> EmbeddedRedis:
    redis = start_embedded_redis(tmp_path / "own")
    yield redis
    redis.stop()


async def test_redis_killed_and_restarted_mid_chat(tmp_path: Path, prefix: str,
                                                   own_redis: EmbeddedRedis) -> None:
    harness = Harness(own_redis.url, prefix, tmp_path)
    try:
        await _outage(harness, own_redis, tmp_path)
    finally:
        for client in harness.clients:
            try:
                await asyncio.wait_for(client.disconnect(), 5)
            except Exception:  # noqa: S110 - best effort while tearing down
                pass
        for srv in harness.servers:
            srv.stop()


async def _outage(harness: Harness, redis: EmbeddedRedis, tmp_path: Path) -> None:
    a = harness.server(HELPLINE_FANOUT="redis")
    b = harness.server(HELPLINE_FANOUT="redis")
    await harness.add_staff("carmen")
    youth = await harness.youth(a)
    leaving = await harness.youth(b)  # will close its tab while Redis is down
    counsellor = await harness.staff("carmen", server=b, create=False)
    cid = youth.conversation_id
    assert cid
    await counsellor.accept(cid)
    for i in range(10):
        await youth.send(f"youth {i}".encode())
        await counsellor.send(cid, f"counsellor {i}".encode())
    await counsellor.wait_until(lambda: len(counsellor.messages(cid)) == 20)
    accepted = [m["body"] for m in counsellor.messages(cid)]
    status, session = await _login_status(b.url, "carmen")  # a second, valid session
    assert status == 200

    _kill(redis)
    # While Redis is down: a clear `unavailable` everywhere, the connections stay.
    with pytest.raises(ClientError) as down:
        await youth.send(b"while down")
    assert down.value.code == "unavailable"
    with pytest.raises(ClientError) as down:
        await counsellor.history(cid)
    assert down.value.code == "unavailable"
    assert youth.connected and counsellor.connected
    await leaving.disconnect()  # its presence cannot be written: no traceback either
    assert set(await _healthz(a.url, 3)) == {503}
    status, body = await _login_status(a.url, "carmen")
    assert (status, body["error"]["code"]) == (503, "unavailable")  # type: ignore[index]
    refused = StaffClient(b.url, origin=ALLOWED_ORIGIN, reconnection=False)
    errors: list[object] = []
    refused.sio.on("connect_error", errors.append, namespace="/staff")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(str(session["token"]))
    await refused.disconnect()
    assert errors and isinstance(errors[0], dict), errors
    assert errors[0]["data"] == {"code": "unavailable"}, errors  # a code, not a traceback

    # Back: the first requests all succeed, the fan-out is back within a second and
    # everyone is told to re-sync.
    restarted = start_embedded_redis(tmp_path / "own")
    back_at = time.monotonic()
    try:
        async def resynced(client: YouthClient | StaffClient) -> float:
            await client.wait_for("resync", timeout=3)
            return time.monotonic() - back_at

        statuses, *delays = await asyncio.gather(
            _healthz(a.url, 30), resynced(youth), resynced(counsellor))
        assert statuses == [200] * 30  # no stale pooled connection fails a request
        assert max(delays) < 1.0, delays  # the fan-out is back within a second
        status, _ = await _login_status(b.url, "carmen")
        assert status == 200
        await youth.send(b"after the restart")
        await counsellor.wait_until(lambda: len(counsellor.messages(cid)) == 21, timeout=1)
        history = [m["body"] for m in (await counsellor.history(cid))["messages"]]
        assert history[:20] == accepted and history[20] == b"after the restart"
        for srv in (a, b):
            assert "Traceback" not in srv.log(), srv.log()[-2000:]
    finally:
        redis.process = restarted.process  # so the fixture stops the new one


async def test_the_first_requests_after_a_quick_restart_all_succeed(
        tmp_path: Path, prefix: str, own_redis: EmbeddedRedis) -> None:
    harness = Harness(own_redis.url, prefix, tmp_path)
    server = harness.server()
    try:
        await harness.add_staff("carmen")
        assert await _healthz(server.url, 30) == [200] * 30  # 30 pooled connections
        _kill(own_redis)
        restarted = start_embedded_redis(tmp_path / "own")
        own_redis.process = restarted.process
        # Nothing was asked while Redis was away: every pooled connection is stale.
        assert await _healthz(server.url, 30) == [200] * 30
        status, _ = await _login_status(server.url, "carmen")
        assert status == 200
    finally:
        server.stop()
