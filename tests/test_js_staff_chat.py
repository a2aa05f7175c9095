"""The console's chat engine (moderation/src/chat/staffchat.js) against a real server.

tests/js/staff_chat.test.mjs runs StaffChat instances in Node with the stock npm
socket.io-client and answers commands over stdin/stdout; these tests play the young
person with the Python YouthClient and the admin with the harness's key admin, so
every message crosses languages: sealed in Python, opened in JavaScript, and back.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from helpline.domain.roles import Role
from tests.conftest import ALLOWED_ORIGIN, PASSWORD, Harness, ServerProcess

ROOT = Path(__file__).resolve().parents[1]
Snapshot = dict[str, Any]


class JsError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class Console:
    """The Node process holding the StaffChat instances, one command at a time."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self._id = 0

    @classmethod
    async def start(cls, server: ServerProcess, fingerprint: str) -> Console:
        node = shutil.which("node")
        if node is None or not (ROOT / "node_modules" / "socket.io-client").is_dir():
            pytest.fail("Node 20+ and `npm ci` are needed (./dev setup runs npm ci)")
        env = {**os.environ, "HELPLINE_URL": server.url, "HELPLINE_ORIGIN": ALLOWED_ORIGIN,
               "HELPLINE_FINGERPRINT": fingerprint}
        proc = await asyncio.create_subprocess_exec(
            node, str(ROOT / "tests" / "js" / "staff_chat.test.mjs"), cwd=ROOT, env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, limit=2**24)
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert json.loads(line) == {"ready": True}, line
        return cls(proc)

    async def __call__(self, op: str, chat: str = "a", timeout: float = 30, **args: Any) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._id += 1
        self.proc.stdin.write((json.dumps({"id": self._id, "op": op, "chat": chat,
                                           "args": args}) + "\n").encode())
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise AssertionError("the Node driver stopped")
        answer = json.loads(line)
        assert answer["id"] == self._id, answer
        if "error" in answer:
            raise JsError(answer["error"]["code"], answer["error"]["message"])
        return answer["ok"]

    async def until(self, condition: Callable[[Snapshot], bool], chat: str = "a",
                    timeout: float = 10) -> Snapshot:
        """Poll the console's getters and event log until `condition` holds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            snap: Snapshot = await self("snapshot", chat)
            if condition(snap):
                return snap
            if loop.time() > deadline:
                raise AssertionError(f"timed out; last snapshot: {json.dumps(snap)[:3000]}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


@pytest.fixture
async def console(harness: Harness, server: ServerProcess) -> AsyncIterator[Console]:
    await harness.init_keys()
    c = await Console.start(server, harness.fingerprint)
    yield c
    await c.stop()


async def grant(harness: Harness, username: str, fingerprints: dict[str, str]) -> list[str]:
    """The admin approves the fingerprints read off the console and grants, as
    Harness.secure_staff does for a Python device."""
    store = harness.store()
    try:
        admin = harness.key_admin(store)
        await admin.approve(username, Role.COUNSELLOR, fingerprints["encryption"],
                            fingerprints["signing"])
        return await admin.grant(username)
    finally:
        await store.close()


async def signed_in_device(harness: Harness, console: Console, username: str,
                           chat: str = "a", pin: str | None = None) -> dict[str, str]:
    """A counsellor signed in from JS with a registered device; returns its fingerprints."""
    await harness.add_staff(username)
    await console("new", chat, **({"pin": pin} if pin else {}))
    assert await console("login", chat, username=username, password=PASSWORD) == {
        "username": username, "role": "counsellor"}
    await console("connect", chat)
    registered = await console("registerDevice", chat)
    fps: dict[str, str] = registered["fingerprints"]
    assert registered["ack"]["encryption_fingerprint"] == fps["encryption"]
    assert registered["ack"]["signing_fingerprint"] == fps["signing"]
    assert registered["ack"]["changed"] == "yes"
    return fps


def entries(read: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(m["seq"], m["role"], m["sender"], m["text"], m["error"]) for m in read]


async def test_accept_from_the_live_queue_and_messages_both_ways(
    harness: Harness, server: ServerProcess, console: Console
) -> None:
    fps = await signed_in_device(harness, console, "carmen")
    periods = await grant(harness, "carmen", fps)
    assert await console("loadGrants") == periods and len(periods) == 1
    assert await console("queue") == []

    youth = await harness.secure_youth()
    cid = youth.conversation_id
    assert cid is not None
    # The queue event brings the new conversation, no `queue` call needed.
    snap = await console.until(lambda s: [e["conversation_id"] for e in s["queueEntries"]]
                               == [cid])
    assert snap["queueEntries"][0]["position"] == 1

    summary = await console("accept", conversationId=cid)
    assert summary["state"] == "active" and summary["counsellor"] == "carmen"
    await console.until(lambda s: s["queueEntries"] == [])
    await youth.wait_for("state", lambda d: d.get("state") == "active")

    await youth.send_text("hello, is anyone there?")
    snap = await console.until(lambda s: any(e["type"] == "message" for e in s["events"]))
    live = [e["detail"] for e in snap["events"] if e["type"] == "message"]
    assert live[0]["conversationId"] == cid and live[0]["text"] == "hello, is anyone there?"
    read = await console("read", conversationId=cid)
    assert entries(read) == [(1, "youth", "young person", "hello, is anyone there?", None)]
    assert read[0]["mine"] is False and read[0]["kind"] == "text"

    await console("typing", conversationId=cid, on=True)
    await youth.wait_for("typing", lambda d: d.get("role") == "counsellor"
                         and d.get("typing") is True)
    sent = await console("sendText", conversationId=cid, text="I am here. You are safe.")
    assert sent["seq"] == 2
    await youth.wait_until(lambda: len(youth.messages) == 2)
    mine = [(m.seq, m.sender_role, m.sender, m.text, m.error) for m in await youth.read()]
    assert mine == [(1, "youth", "you", "hello, is anyone there?", None),
                    (2, "counsellor", "carmen", "I am here. You are safe.", None)]
    read = await console("read", conversationId=cid)
    assert entries(read)[1] == (2, "counsellor", "carmen", "I am here. You are safe.", None)
    assert read[1]["mine"] is True

    # A second message continues the device's counter (a reused one would be a replay).
    assert (await console("sendText", conversationId=cid, text="Take your time."))["seq"] == 3
    await youth.wait_until(lambda: len(youth.messages) == 3)
    assert [m.error for m in await youth.read()] == [None, None, None]

    assert await console("readers", conversationId=cid) == ["team"]
    assert await console("end", conversationId=cid) == "ended"
    await youth.wait_for("state", lambda d: d.get("state") == "ended")
    snap = await console("snapshot")
    assert [e for e in snap["events"] if e["type"] == "error"] == []


async def test_a_device_without_a_grant_reads_and_sends_nothing(
    harness: Harness, server: ServerProcess, console: Console
) -> None:
    await signed_in_device(harness, console, "carmen")  # registered, never approved
    assert await console("loadGrants") == []
    youth = await harness.secure_youth()
    cid = youth.conversation_id
    await console("accept", conversationId=cid)
    await youth.send_text("hello")
    await console.until(lambda s: any(e["type"] == "message" for e in s["events"]))
    read = await console("read", conversationId=cid)
    assert entries(read) == [(1, "youth", None, None, "unknown_sender_or_epoch")]
    with pytest.raises(JsError) as refused:
        await console("sendText", conversationId=cid, text="can you read me?")
    assert refused.value.code == "no_keys"
    assert len(youth.messages) == 1


async def test_grants_signed_by_another_key_than_the_pinned_one_are_refused(
    harness: Harness, server: ServerProcess, console: Console
) -> None:
    fps = await signed_in_device(harness, console, "carmen", pin="ab" * 32)
    await grant(harness, "carmen", fps)
    with pytest.raises(JsError) as refused:
        await console("loadGrants")
    assert refused.value.code == "untrusted_signer"


async def test_readers_follow_the_signed_epochs_through_a_police_handover(
    harness: Harness, server: ServerProcess, console: Console
) -> None:
    fps = await signed_in_device(harness, console, "carmen")
    await grant(harness, "carmen", fps)
    await console("loadGrants")
    youth = await harness.secure_youth()
    cid = youth.conversation_id
    await console("accept", conversationId=cid)
    await youth.send_text("before")
    await console.until(lambda s: any(e["type"] == "message" for e in s["events"]))
    assert await console("readers", conversationId=cid) == ["team"]

    offer = await console("offerHandover", conversationId=cid)
    assert offer["handover"] == "offered"
    await youth.wait_for("handover_offer")
    await youth.answer_handover(accept=True)
    # The young person's new epoch names the police key: the console re-keys from the
    # `epoch` event and still reads and writes (the team is a reader of every epoch).
    await console.until(lambda s: any(e["type"] == "epoch" and e["detail"]["epoch"] == 2
                                      for e in s["events"]))
    assert await console("readers", conversationId=cid) == ["team", "police"]
    await youth.send_text("after")
    await console.until(lambda s: sum(e["type"] == "message" for e in s["events"]) == 2)
    assert entries(await console("read", conversationId=cid)) == [
        (1, "youth", "young person", "before", None), (2, "youth", "young person", "after", None)]
    assert (await console("sendText", conversationId=cid, text="thank you"))["seq"] == 3
    await youth.wait_until(lambda: len(youth.messages) == 3)
    assert [(m.text, m.error) for m in await youth.read()] == [
        ("before", None), ("after", None), ("thank you", None)]
