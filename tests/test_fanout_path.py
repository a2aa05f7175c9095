"""Redis fan-out publishes only what another process needs (issue 11, part 3).

Before, every emit went out on python-socketio's one shared channel: every process
decoded every chat message (its own too), so the cost per message grew with the number
of processes. Now an event for one person's room travels on that room's channel, to
which only the processes holding that person's connections subscribe
(helpline/storage/fanout.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from helpline.client import YouthClient
from tests.conftest import Harness


async def _subscribers(harness: Harness, channel: str) -> int:
    r = await harness.redis()
    try:
        answer = await r.execute_command("PUBSUB", "NUMSUB", channel)
        return int(answer[1])
    finally:
        await r.aclose()


async def _message_channels(harness: Harness, send: Any) -> list[bytes]:
    """The channels a chat message was published on while `send()` ran (and 1 s after);
    fails if one went out on the shared channel every process decodes."""
    shared = f"{harness.prefix}socketio"
    r = await harness.redis()
    pubsub = r.pubsub()
    await pubsub.psubscribe(f"{shared}*")
    try:
        await send()
        seen: list[tuple[bytes, bytes]] = []
        deadline = asyncio.get_running_loop().time() + 1.0
        while asyncio.get_running_loop().time() < deadline:
            message = await pubsub.get_message(timeout=0.1)
            if message is not None and message["type"] == "pmessage":
                seen.append((message["channel"], message["data"]))
    finally:
        await pubsub.aclose()
        await r.aclose()
    on_shared = [data for channel, data in seen if channel == shared.encode()]
    assert not any(b'"message"' in data for data in on_shared), \
        "a chat message went out on the channel every process decodes"
    return sorted(c for c, data in seen if b'"message"' in data)


async def test_a_chat_message_travels_only_on_its_rooms_channel(harness: Harness) -> None:
    a = harness.server(HELPLINE_FANOUT="redis")
    b = harness.server(HELPLINE_FANOUT="redis")
    counsellor = await harness.staff("olga", server=b)
    youth = await harness.youth(a)
    cid = youth.conversation_id
    assert cid and youth.resume_token
    await counsellor.accept(cid)
    shared = f"{harness.prefix}socketio"
    staff_channel = f"{shared}:/staff:staff:olga".encode()
    youth_channel = f"{shared}:/youth:youth:{cid}".encode()

    async def send(body: bytes, count: int) -> None:
        await youth.send(body)
        await counsellor.wait_until(lambda: len(counsellor.messages(cid)) == count)

    # One connection: only the counsellor's room (nobody else of the young person's
    # would receive it on their own).
    assert await _message_channels(harness, lambda: send(b"only for olga", 1)) == [
        staff_channel]
    # A second connection of the young person, on the other process: their room too.
    second = YouthClient(b.url)
    harness.clients.append(second)
    await second.connect()
    await second.resume(youth.resume_token)
    assert await _message_channels(harness, lambda: send(b"and my other tab", 2)) == sorted(
        [staff_channel, youth_channel])
    await second.wait_until(lambda: [m["body"] for m in second.messages] == [
        b"only for olga", b"and my other tab"])  # the first from its resume


async def test_only_processes_with_a_member_subscribe_to_a_room(harness: Harness) -> None:
    a = harness.server(HELPLINE_FANOUT="redis")
    b = harness.server(HELPLINE_FANOUT="redis")
    harness.server(HELPLINE_FANOUT="redis")  # a third process, with nobody of theirs
    counsellor = await harness.staff("pim", server=b)
    youth = await harness.youth(a)
    cid = youth.conversation_id
    shared = f"{harness.prefix}socketio"
    youth_channel = f"{shared}:/youth:youth:{cid}"
    assert await _subscribers(harness, youth_channel) == 1  # A only
    assert await _subscribers(harness, f"{shared}:/staff:staff:pim") == 1  # B only
    await counsellor.disconnect()
    await youth.disconnect()
    # The last local member gone, the process leaves the room's channel.
    for _ in range(50):
        if await _subscribers(harness, youth_channel) == 0:
            break
        await asyncio.sleep(0.05)
    assert await _subscribers(harness, youth_channel) == 0
    assert await _subscribers(harness, f"{shared}:/staff:staff:pim") == 0


async def test_a_burst_across_processes_arrives_complete_and_in_order(
        harness: Harness) -> None:
    """Publishes are batched: they must still reach the other process in seq order."""
    a = harness.server(HELPLINE_FANOUT="redis")
    b = harness.server(HELPLINE_FANOUT="redis")
    counsellor = await harness.staff("quin", server=b)
    youth = await harness.youth(a)
    cid = youth.conversation_id
    assert cid
    await counsellor.accept(cid)
    arrived: list[int] = []
    handlers = youth.sio.handlers["/youth"]
    original = handlers["message"]

    async def record(data: dict[str, Any]) -> None:
        arrived.append(data["seq"])
        await original(data)

    handlers["message"] = record
    bodies = [f"burst {i}".encode() for i in range(60)]
    await asyncio.gather(*(counsellor.send(cid, body) for body in bodies))
    await youth.wait_until(lambda: len(youth.messages) == len(bodies))
    assert arrived == list(range(1, len(bodies) + 1))
    assert sorted(m["body"] for m in youth.messages) == sorted(bodies)
