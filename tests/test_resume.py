"""Reconnecting: nothing lost and nothing doubled, even across a killed server."""

from __future__ import annotations

import asyncio

from helpline.client import YouthClient
from tests.conftest import Harness, ServerProcess


def seqs(messages: list[dict[str, object]]) -> list[object]:
    return [m["seq"] for m in messages]


async def test_resume_after_a_dropped_connection_gets_exactly_what_was_missed(
    harness: Harness, server: ServerProcess
) -> None:
    counsellor = await harness.staff("finn")
    youth = await harness.youth()
    cid = youth.conversation_id
    assert cid and youth.resume_token
    await counsellor.accept(cid)
    await youth.send(b"one")
    await counsellor.send(cid, b"two")
    await youth.wait_until(lambda: len(youth.messages) == 2)

    # The phone loses its connection; the counsellor keeps writing.
    await youth.disconnect()
    await counsellor.wait_for("presence", lambda d: d["online"] is False)
    await counsellor.send(cid, b"three")
    await counsellor.send(cid, b"four")

    # Back online (same page, same memory): resume from the last seq it saw.
    again = YouthClient(server.url)
    harness.clients.append(again)
    await again.connect()
    result = await again.resume(youth.resume_token, last_seq=2)
    assert [m["body"] for m in result["messages"]] == [b"three", b"four"]
    assert result["state"] == "active"
    await counsellor.wait_for("presence", lambda d: d["online"] is True)
    # Live messages continue after the resumed ones, none repeated.
    await counsellor.send(cid, b"five")
    await again.wait_until(lambda: seqs(again.messages) == [3, 4, 5])
    await again.send(b"six")
    await counsellor.wait_until(lambda: seqs(counsellor.messages(cid)) == [1, 2, 3, 4, 5, 6])


async def test_resume_with_a_wrong_token_finds_nothing(
    harness: Harness, server: ServerProcess
) -> None:
    youth = await harness.youth()
    assert youth.conversation_id
    thief = await harness.youth(open_=False)
    for token in (f"{youth.conversation_id}.wrong-secret", "x.y", "garbage"):
        ack = await thief.emit_raw("resume", {"resume_token": token})
        assert ack["error"]["code"] == "not_found", token


async def test_server_killed_and_restarted_loses_and_doubles_nothing(
    harness: Harness, server: ServerProcess
) -> None:
    counsellor = await harness.staff("gert")
    youth = await harness.youth()
    cid = youth.conversation_id
    assert cid
    await counsellor.accept(cid)
    await youth.send(b"before-1")
    await counsellor.send(cid, b"before-2")
    await youth.wait_until(lambda: len(youth.messages) == 2)

    server.kill()  # SIGKILL: no clean shutdown
    await youth.wait_until(lambda: not youth.connected, timeout=10)
    server.start()

    # Both clients reconnect by themselves; the young person's client resumes.
    await counsellor.wait_until(lambda: counsellor.connected, timeout=15)
    await youth.wait_until(lambda: youth.connected, timeout=15)
    await counsellor.send(cid, b"after-3")
    await youth.wait_until(lambda: seqs(youth.messages) == [1, 2, 3], timeout=10)
    await youth.send(b"after-4")
    await counsellor.wait_until(lambda: seqs(counsellor.messages(cid)) == [1, 2, 3, 4])
    assert [m["body"] for m in youth.messages] == [b"before-1", b"before-2", b"after-3",
                                                   b"after-4"]
    # State survived in Redis: still active, still held by the same counsellor.
    assert [c["conversation_id"] for c in await counsellor.held()] == [cid]


async def test_resend_with_the_same_client_msg_id_is_stored_once(
    harness: Harness, server: ServerProcess
) -> None:
    youth = await harness.youth()
    first = await youth.call("send", {"body": b"hello", "client_msg_id": "m-1"})
    again = await youth.call("send", {"body": b"hello", "client_msg_id": "m-1"})
    assert first == again
    history = await youth.history(0)
    assert [m["seq"] for m in history["messages"]] == [1]


async def test_a_resume_during_a_burst_never_passes_its_own_last_seq(
    harness: Harness, server: ServerProcess
) -> None:
    counsellor = await harness.staff("finn")
    youth = await harness.youth()
    cid = youth.conversation_id
    assert cid and youth.resume_token
    await counsellor.accept(cid)
    await youth.disconnect()

    async def burst() -> None:
        for i in range(300):
            await counsellor.send(cid, f"m{i}".encode())

    task = asyncio.ensure_future(burst())
    answers = []
    while not task.done():
        again = YouthClient(server.url)
        harness.clients.append(again)
        await again.connect()
        answers.append(await again.call("resume", {"resume_token": youth.resume_token,
                                                   "last_seq": 0}))
        await again.disconnect()
    await task
    assert len(answers) >= 3
    for answer in answers:
        seqs_ = [m["seq"] for m in answer["messages"]]
        assert all(s <= answer["last_seq"] for s in seqs_), (seqs_[-3:], answer["last_seq"])
        if not answer["more"]:
            assert (seqs_[-1] if seqs_ else 0) == answer["last_seq"]


async def test_a_second_connection_of_the_young_person_sees_what_the_first_sends(
    harness: Harness, server: ServerProcess
) -> None:
    # A message from the young person goes to their own room only while they have
    # another connection open on the conversation (an overlapping reconnect, a
    # second tab): each bind and each disconnect is counted.
    counsellor = await harness.staff("gita")
    first = await harness.youth()
    cid = first.conversation_id
    assert cid and first.resume_token
    await counsellor.accept(cid)
    second = YouthClient(server.url)
    harness.clients.append(second)
    await second.connect()
    await second.resume(first.resume_token)

    async def count() -> int:
        r = await harness.redis()
        value = await r.hget(f"{harness.prefix}conv:{cid}", "youth_conns")
        await r.aclose()
        return int(value or 0)

    assert await count() == 2
    await first.send(b"from the first")
    await second.wait_until(lambda: [m["body"] for m in second.messages] == [b"from the first"])
    await counsellor.wait_until(lambda: len(counsellor.messages(cid)) == 1)
    assert [m["body"] for m in first.messages] == [b"from the first"]  # its own, once

    await second.disconnect()
    await counsellor.wait_for("presence", lambda d: d["online"] is False)
    assert await count() == 1
    await first.send(b"alone now")
    await counsellor.wait_until(lambda: len(counsellor.messages(cid)) == 2)
    await first.disconnect()
    await counsellor.wait_until(lambda: len(counsellor.events("presence")) >= 2)
    assert await count() == 0
