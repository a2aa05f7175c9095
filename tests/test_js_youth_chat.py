"""The widget's chat engine (widgets/src/chat/client.js) against a real server.

tests/js/youth_chat.test.mjs runs YouthChat instances in Node with the stock npm
socket.io-client and answers commands over stdin/stdout; these tests play the
counsellor (and the police officer) with the Python StaffClient and its keyring, so
every message crosses languages: sealed in JavaScript, opened in Python, and back.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpline.client import StaffClient
from helpline.crypto.statements import key_statement_from_dict
from helpline.domain.roles import Role
from tests.conftest import ALLOWED_ORIGIN, Harness, ServerProcess

ROOT = Path(__file__).resolve().parents[1]
Snapshot = dict[str, Any]


class JsError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class Widget:
    """The Node process holding the YouthChat instances, one command at a time."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self._id = 0
        self.stderr = b""

    @classmethod
    async def start(cls, server: ServerProcess, fingerprint: str) -> Widget:
        node = shutil.which("node")
        if node is None or not (ROOT / "node_modules" / "socket.io-client").is_dir():
            pytest.fail("Node 20+ and `npm ci` are needed (./dev setup runs npm ci)")
        env = {**os.environ, "HELPLINE_URL": server.url, "HELPLINE_ORIGIN": ALLOWED_ORIGIN,
               "HELPLINE_FINGERPRINT": fingerprint}
        proc = await asyncio.create_subprocess_exec(
            node, str(ROOT / "tests" / "js" / "youth_chat.test.mjs"), cwd=ROOT, env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, limit=2**24)
        widget = cls(proc)
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert json.loads(line) == {"ready": True}, line
        return widget

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
        """Poll the chat's getters until `condition` holds."""
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
async def widget(harness: Harness, server: ServerProcess) -> Any:
    await harness.init_keys()
    w = await Widget.start(server, harness.fingerprint)
    yield w
    await w.stop()


def texts(snap: Snapshot) -> list[tuple[str, str | None]]:
    return [(m["role"], m["text"]) for m in snap["messages"] if m["kind"] == "text"]


async def _chat_with_counsellor(harness: Harness, widget: Widget) -> tuple[StaffClient, str]:
    """A youth opened without the intake, accepted by a counsellor with device keys."""
    counsellor = await harness.secure_staff("carmen")
    opened = await widget("open", intake=False)
    cid = opened["conversation_id"]
    assert opened["state"] == "queued"
    await counsellor.accept(cid)
    await widget.until(lambda s: s["state"] == "active")
    return counsellor, cid


async def test_intake_queue_accept_and_messages_both_ways(
    harness: Harness, server: ServerProcess, widget: Widget
) -> None:
    counsellor = await harness.secure_staff("carmen")
    await widget("new")
    opened = await widget("open", intake=True, browserLanguage="en-GB")
    cid = opened["conversation_id"]
    snap = await widget("snapshot")
    assert snap["state"] == "intake" and snap["prompt"]["step"] == "language"
    assert snap["readers"] == ["team"] and snap["teamKeyVerified"] is True
    await widget("answerIntake", choice="en")
    # The network drops during the intake: the widget resumes where it was (the
    # answer below waits for the resume instead of failing).
    await widget("drop")
    assert (await widget("snapshot"))["online"] is False
    await widget("answerIntake", choice="16_17")
    assert (await widget("snapshot"))["prompt"]["step"] == "topic"
    await widget("answerIntake", choice="labour", text="they keep my passport")
    done = await widget("answerIntake", choice="yes")  # danger: the intake ends at once
    assert done["urgent"] is True and done["emergency"] == "112"
    snap = await widget.until(lambda s: any(m["kind"] == "intake" and m["status"] == "sent"
                                            for m in s["messages"]))
    assert snap["state"] == "queued" and snap["prompt"] is None and snap["position"] == 1
    assert [e["type"] for e in snap["events"]].count("urgent") == 1
    assert (await counsellor.queue())[0]["urgent"] is True

    await counsellor.accept(cid)
    await widget.until(lambda s: s["state"] == "active" and s["position"] == 0)
    # Sent without waiting for each ack: stored, and read, in the order written.
    sent = await widget("sendMany", texts=["hello", "is anyone there?", "I need help"])
    assert [s["seq"] for s in sent] == [2, 3, 4]
    await widget("sendSignal", signal="cannot_talk")
    await counsellor.wait_until(lambda: len(counsellor.messages(cid)) == 5)
    read = await counsellor.read(cid)
    assert [(m.seq, m.sender_role, m.text, m.error) for m in read] == [
        (1, "youth", "[intake]", None), (2, "youth", "hello", None),
        (3, "youth", "is anyone there?", None), (4, "youth", "I need help", None),
        (5, "youth", "[signal]", None)]  # a console that knows the type shows a banner
    # The intake record carries the questions and the free text; the server had none.
    assert counsellor.keyring is not None
    reader, _ = counsellor.keyring.reader(cid, await counsellor.conversation_keys(cid))
    bodies = [json.loads(reader.open(m["body"]).message.plaintext)
              for m in counsellor.messages(cid)]
    assert bodies[0]["type"] == "intake"
    assert [a["choice"] for a in bodies[0]["answers"]] == ["en", "16_17", "labour", "yes"]
    assert bodies[0]["answers"][2]["text"] == "they keep my passport"
    assert bodies[4] == {"type": "signal", "signal": "cannot_talk"}

    await counsellor.typing(cid, True)
    await widget.until(lambda s: any(e["type"] == "typing" and e["detail"] == {
        "role": "counsellor", "typing": True} for e in s["events"]))
    await counsellor.send_text(cid, "I am here. You are safe to write.")
    snap = await widget.until(lambda s: len(texts(s)) == 4)
    assert texts(snap)[-1] == ("counsellor", "I am here. You are safe to write.")
    last = snap["messages"][-1]
    assert last["mine"] is False and last["error"] is None and last["seq"] == 6
    assert all(m["mine"] for m in snap["messages"][:5])
    assert [m["seq"] for m in snap["messages"]] == [1, 2, 3, 4, 5, 6]

    assert await widget("end") == "ended"
    await widget.until(lambda s: s["state"] == "ended")
    await widget("close")
    snap = await widget("snapshot")
    assert snap["messages"] == [] and snap["state"] == "closed"


async def test_a_dropped_connection_loses_and_doubles_nothing(
    harness: Harness, server: ServerProcess, widget: Widget
) -> None:
    await widget("new")
    counsellor, cid = await _chat_with_counsellor(harness, widget)
    await widget("sendText", text="one")
    await counsellor.wait_until(lambda: len(counsellor.messages(cid)) == 1)

    # The network goes; the counsellor writes meanwhile; the widget reconnects by
    # itself, resumes with its last seq and reads what it missed.
    await widget("drop")
    await counsellor.send_text(cid, "two (while you were away)")
    snap = await widget.until(lambda s: len(texts(s)) == 2 and s["connected"])
    # A message whose ack is lost to a drop is resent with its client_msg_id after
    # the resume: stored once.
    result = await widget("sendAndDrop", text="three")
    assert result == {"seq": 3, "sends": 2}  # sent twice, stored once
    await counsellor.send_text(cid, "four")
    snap = await widget.until(lambda s: len(texts(s)) == 4)
    assert [(m["seq"], m["role"], m["text"], m["status"]) for m in snap["messages"]] == [
        (1, "youth", "one", "sent"), (2, "counsellor", "two (while you were away)", "sent"),
        (3, "youth", "three", "sent"), (4, "counsellor", "four", "sent")]
    await counsellor.wait_until(lambda: len(counsellor.messages(cid)) == 4)
    history = (await counsellor.history(cid))["messages"]
    assert [m["seq"] for m in history] == [1, 2, 3, 4]
    assert [m.text for m in await counsellor.read(cid)] == [
        "one", "two (while you were away)", "three", "four"]


async def test_a_return_code_reopens_the_chat_in_a_fresh_widget(
    harness: Harness, server: ServerProcess, widget: Widget
) -> None:
    await widget("new")
    counsellor, cid = await _chat_with_counsellor(harness, widget)
    await widget("sendText", text="before the code")
    await counsellor.send_text(cid, "welcome")
    await widget.until(lambda s: len(texts(s)) == 2)
    code = await widget("requestReturnCode", timeout=60)
    words = code.split("-")
    assert len(words) == 8 and all(w.isalpha() and w.islower() for w in words)
    await widget("sendText", text="after the code")
    await widget("close")  # the first device forgets everything

    await widget("new", chat="b")
    with pytest.raises(JsError) as refused:
        await widget("resumeWithCode", chat="b", code=code.replace("-", " "))
    assert refused.value.code == "invalid_return_code"  # nothing was sent
    assert await widget("resumeWithCode", chat="b", code=code, timeout=60) is True
    snap = await widget("snapshot", chat="b")
    assert snap["conversationId"] == cid and snap["state"] == "active"
    assert texts(snap) == [("youth", "before the code"), ("counsellor", "welcome"),
                           ("youth", "after the code")]
    assert snap["readers"] == ["team"]
    # The sender counter continues from the transcript: the counsellor's reader takes
    # the new message (a reused counter would be refused as a replay).
    await widget("sendText", chat="b", text="I am back")
    await counsellor.wait_until(lambda: len(counsellor.messages(cid)) == 4)
    assert [(m.text, m.error) for m in await counsellor.read(cid)][-1] == ("I am back", None)
    await counsellor.send_text(cid, "good to see you")
    snap = await widget.until(lambda s: len(texts(s)) == 5, chat="b")
    assert texts(snap)[-1] == ("counsellor", "good to see you")

    # The young person throws the code away: it opens nothing any more.
    await widget("destroyReturnCode", chat="b", timeout=60)
    await widget("new", chat="c")
    with pytest.raises(JsError) as refused:
        await widget("resumeWithCode", chat="c", code=code, timeout=60)
    assert refused.value.code == "not_found"


async def test_police_handover_with_consent_and_a_withdrawal_that_rekeys(
    harness: Harness, server: ServerProcess, widget: Widget
) -> None:
    await widget("new")
    counsellor, cid = await _chat_with_counsellor(harness, widget)
    police = await harness.secure_staff("agent-jansen", Role.POLICE)
    await widget("sendText", text="they make me sell for them")
    await counsellor.send_text(cid, "thank you for telling me")
    await widget.until(lambda s: len(texts(s)) == 2)

    await counsellor.offer_handover(cid)
    snap = await widget.until(lambda s: s["offer"] is not None)
    assert "politieagent" in snap["offer"]["text"]
    assert snap["offer"]["expiresAt"] > 0 and len(snap["offer"]["police"]["fingerprint"]) == 64
    await widget("answerHandover", accept=True, shareHistory=False)
    snap = await widget("snapshot")
    assert snap["readers"] == ["team", "police"] and snap["offer"] is None
    await counsellor.wait_for("handover", lambda d: d["handover"] == "consented")
    assert await counsellor.readers(cid) == ["team", "police"]

    await police.police_join(cid)
    await widget.until(lambda s: s["handover"] == "joined")
    assert police.messages(cid) == []  # nothing from before the handover
    await widget("sendText", text="I want to tell the police")
    await police.wait_until(lambda: len(police.messages(cid)) == 1)
    await police.send_text(cid, "I am here to listen")
    snap = await widget.until(lambda s: len(texts(s)) == 4)
    assert texts(snap)[-1] == ("police", "I am here to listen")
    assert [(m.seq, m.sender_role, m.text) for m in await police.read(cid)] == [
        (3, "youth", "I want to tell the police"), (4, "police", "I am here to listen")]

    # The young person takes the yes back: the officer is out at once, and the next
    # epoch is wrapped for the team alone.
    await widget("withdrawHandover")
    snap = await widget("snapshot")
    assert snap["readers"] == ["team"]
    await police.wait_for("handover", lambda d: d["handover"] == "withdrawn")
    await widget("sendText", text="only for the counsellor now")
    await counsellor.wait_until(lambda: len(counsellor.messages(cid)) == 5)
    assert [m.text for m in await counsellor.read(cid)][-1] == "only for the counsellor now"
    assert await counsellor.readers(cid) == ["team"]
    keys = await counsellor.conversation_keys(cid)
    assert keys["epoch"] == 3
    assert police.keyring is not None
    assert sorted(police.keyring.verified_epochs(cid, keys).keys) == [2]  # never epoch 3


async def test_a_team_key_the_pinned_key_did_not_sign_is_never_used(
    harness: Harness, server: ServerProcess, widget: Widget
) -> None:
    counsellor = await harness.secure_staff("carmen")
    other = "0" * 64  # an embed snippet pinning another organisation's key
    await widget("new", pin=other)
    with pytest.raises(JsError) as refused:
        await widget("open", intake=False)
    assert refused.value.code == "untrusted_signer"
    with pytest.raises(JsError) as refused:
        await widget("sendText", text="is this private?")
    assert refused.value.code == "untrusted_signer"
    snap = await widget("snapshot")
    assert snap["teamKeyVerified"] is False and snap["conversationId"] is None
    assert snap["messages"] == [] and snap["readers"] == []
    assert await counsellor.queue() == []  # nothing was opened, nothing was sent


async def test_shared_history_and_the_widget_rekeys_when_the_officer_leaves_or_consent_ends(
    harness: Harness, server: ServerProcess, widget: Widget
) -> None:
    await widget("new")
    counsellor, cid = await _chat_with_counsellor(harness, widget)
    police = await harness.secure_staff("agent-jansen", Role.POLICE)
    await widget("sendText", text="it started last year")
    await counsellor.send_text(cid, "thank you")
    await widget.until(lambda s: len(texts(s)) == 2)

    # Yes, with history: the police read what was said before too.
    await counsellor.offer_handover(cid)
    await widget.until(lambda s: s["offer"] is not None)
    await widget("answerHandover", accept=True, shareHistory=True)
    await police.police_join(cid)
    await widget("sendText", text="now for the police too")
    await police.wait_until(lambda: len(police.messages(cid)) == 3)
    assert [(m.text, m.error) for m in await police.read(cid)] == [
        ("it started last year", None), ("thank you", None), ("now for the police too", None)]

    # The officer leaves: the widget starts a team-only epoch by itself (the consent
    # has an hour to go).
    await police.police_leave(cid)
    await widget.until(lambda s: s["handover"] == "left" and s["readers"] == ["team"],
                       timeout=3)
    assert await counsellor.readers(cid) == ["team"]

    # A second yes whose consent runs out (4 s): the widget re-keys at the expiry,
    # without waiting for any event.
    await counsellor.offer_handover(cid)
    await widget.until(lambda s: s["offer"] is not None)
    await widget("answerHandover", accept=True, shareHistory=False, validSeconds=4)
    assert (await widget("snapshot"))["readers"] == ["team", "police"]
    await widget.until(lambda s: s["readers"] == ["team"], timeout=15)
    await widget("sendText", text="after the consent")
    await counsellor.wait_until(lambda: len(counsellor.messages(cid)) == 4)
    assert [m.text for m in await counsellor.read(cid)][-1] == "after the consent"
    assert await counsellor.readers(cid) == ["team"]

    # The quick exit: end and delete now.
    assert await widget("end", deleteNow=True) == "ended"


async def test_the_revocation_list_reaches_the_widget(
    harness: Harness, server: ServerProcess, widget: Widget
) -> None:
    await widget("new", revocationCheckMs=300)  # the widget fetches the list again
    counsellor, cid = await _chat_with_counsellor(harness, widget)
    await counsellor.send_text(cid, "signed before the revocation")
    await widget.until(lambda s: len(texts(s)) == 1)
    # The counsellor's device is lost: the admin revokes its keys. A message it signs
    # afterwards is refused by the widget; the earlier one stays readable.
    store = harness.store()
    try:
        assert counsellor.keyring is not None
        await asyncio.sleep(1.1)  # whole seconds: a message in the revocation's second is refused
        revoked = await harness.key_admin(store).revoke("carmen")
        assert counsellor.keyring.signing.public.fingerprint in revoked
        await asyncio.sleep(1.1)  # revoked_at <= sent_at, in whole seconds
        await counsellor.send_text(cid, "signed after the revocation")
        snap = await widget.until(lambda s: len(s["messages"]) == 2)
        assert [(m["text"], m["error"]) for m in snap["messages"]] == [
            ("signed before the revocation", None), (None, "key_revoked")]
        # A revoked team key is never encrypted to: a new widget refuses to open.
        [team] = (await counsellor.call("keys"))["team"].values()  # period -> statement
        await harness.key_admin(store).revoke(
            key_statement_from_dict(team).statement.public_key.fingerprint)
    finally:
        await store.close()
    await widget("new", chat="late")
    with pytest.raises(JsError) as refused:
        await widget("open", chat="late", intake=False)
    assert refused.value.code == "key_revoked"
