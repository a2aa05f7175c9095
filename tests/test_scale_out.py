"""Several server processes on one Redis serve the same conversations."""

from __future__ import annotations

import asyncio
import base64
import os

import aiohttp

from tests.conftest import Harness, ServerProcess


async def test_two_processes_share_conversations_and_the_queue(harness: Harness) -> None:
    a = harness.server(HELPLINE_FANOUT="redis")
    b = harness.server(HELPLINE_FANOUT="redis")
    on_a = await harness.staff("xavi", server=a)
    on_b = await harness.staff("yara", server=b)
    youth = await harness.youth(a)
    cid = youth.conversation_id
    assert cid
    # The queue update reaches counsellors on both processes.
    for counsellor in (on_a, on_b):
        await counsellor.wait_for("queue", lambda d: [e["conversation_id"]
                                                      for e in d["joined"]] == [cid])
        assert [e["conversation_id"] for e in counsellor.queue_entries] == [cid]
    # A counsellor on B takes a young person on A; the queue empties everywhere.
    await on_b.accept(cid)
    await on_a.wait_for("queue", lambda d: d["left"] == [cid] and d["queue_length"] == 0)
    assert on_a.queue_entries == []
    await youth.wait_for("state", lambda d: d["state"] == "active")
    await youth.send(b"from A")
    await on_b.wait_until(lambda: [m["body"] for m in on_b.messages(cid)] == [b"from A"])
    await on_b.send(cid, b"from B")
    await youth.wait_until(lambda: [m["body"] for m in youth.messages] == [b"from A",
                                                                            b"from B"])
    await on_b.typing(cid, True)
    await youth.wait_for("typing", lambda d: d["typing"] is True)


async def test_a_second_young_person_on_b_sees_positions_from_a(harness: Harness) -> None:
    a = harness.server(HELPLINE_FANOUT="redis")
    b = harness.server(HELPLINE_FANOUT="redis")
    first = await harness.youth(a)
    second = await harness.youth(b)
    assert (await second.history(0))["messages"] == []
    await first.end()
    await second.wait_for("queue_position", lambda d: d["position"] == 1
                          and d["queue_length"] == 1)


async def test_websocket_compression_is_refused(server: ServerProcess) -> None:
    """permessage-deflate costs about 4x the memory per socket: never negotiated."""
    key = base64.b64encode(os.urandom(16)).decode()
    async with aiohttp.ClientSession() as http, http.get(
        f"{server.url}/socket.io/?EIO=4&transport=websocket",
        headers={"Connection": "Upgrade", "Upgrade": "websocket",
                 "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": key,
                 "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"},
    ) as resp:
        assert resp.status == 101
        assert "Sec-WebSocket-Extensions" not in resp.headers
    # And the ordinary client (which offers compression too) works over it.
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{server.url}/socket.io/?EIO=4&transport=websocket",
                                   compress=15)
        assert ws.compress == 0
        opening = await asyncio.wait_for(ws.receive_str(), 5)
        assert opening.startswith("0{")
        await ws.close()

