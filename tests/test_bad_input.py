"""Bad input gets a clear error code, loses nothing, and the connection stays usable."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from helpline.domain.roles import Role
from helpline.protocol import to_wire
from tests.conftest import Harness, ServerProcess

BIG = to_wire(b"x" * (16 * 1024 + 512 + 1))  # one byte over HELPLINE_MAX_BODY_BYTES
HI, X = to_wire(b"hi"), to_wire(b"x")

YOUTH_BEFORE_OPEN: list[tuple[str, tuple[Any, ...], str]] = [
    ("send", ({"body": HI},), "no_conversation"),
    ("history", ({"after_seq": 0},), "no_conversation"),
    ("end", ({},), "no_conversation"),
    ("open", ("a string",), "invalid_payload"),
    ("open", ({"language": "nl", "ip": "1.2.3.4"},), "invalid_payload"),
    ("open", ({"language": "Dutch!"},), "invalid_payload"),
    ("open", ({"language": "n" * 17},), "too_large"),
    ("resume", ({"resume_token": "bad token with spaces"},), "invalid_payload"),
    ("resume", ({},), "invalid_payload"),
    ("no_such_event", ({},), "unknown_event"),
]

YOUTH_AFTER_OPEN: list[tuple[str, tuple[Any, ...], str]] = [
    ("open", ({},), "already_open"),
    ("send", ({},), "invalid_payload"),
    ("send", ({"body": "not base64url, with spaces"},), "invalid_payload"),
    ("send", ({"body": "eA=="},), "invalid_payload"),  # padded: one spelling only
    ("send", ({"body": "eB"},), "invalid_payload"),  # spare bits set: not canonical
    ("send", ({"body": b"raw binary"},), "invalid_payload"),  # bytes travel as text
    ("send", ({"body": ""},), "invalid_payload"),
    ("send", ({"body": BIG},), "too_large"),
    ("send", ({"body": X, "client_msg_id": "spaces are bad"},), "invalid_payload"),
    ("send", ([X, HI],), "invalid_payload"),
    ("send", ({"body": X}, {"body": HI}), "invalid_payload"),
    ("typing", ({"typing": "yes"},), "invalid_payload"),
    ("typing", ({"typing": 1},), "invalid_payload"),
    ("history", ({"after_seq": -1},), "invalid_payload"),
    ("history", ({"after_seq": 1.5},), "invalid_payload"),
    ("history", ({"after_seq": 2**60},), "invalid_payload"),
    ("history", ({"after_seq": 0, "limit": 0},), "invalid_payload"),
    ("history", ({"after_seq": True},), "invalid_payload"),
]

STAFF: list[tuple[str, tuple[Any, ...], str]] = [
    ("accept", ({},), "invalid_payload"),
    ("accept", ({"conversation_id": "../../etc/passwd"},), "invalid_payload"),
    ("accept", ({"conversation_id": 12345},), "invalid_payload"),
    ("accept", ({"conversation_id": "B" * 22},), "not_found"),
    ("send", ({"conversation_id": "B" * 22, "body": BIG},), "too_large"),
    ("typing", (None,), "invalid_payload"),
    ("wrapup", ({"conversation_id": "B" * 22, "form": "murder", "age_band": "unknown",
                 "referral": "none"},), "invalid_payload"),
    ("reassign", ({"conversation_id": "B" * 22, "to": "someone"},), "forbidden"),
    ("overview", ({},), "forbidden"),
    ("overview", ({"conversation_ids": "B" * 22},), "invalid_payload"),
    ("overview", ({"conversation_ids": []},), "invalid_payload"),
    ("overview", ({"conversation_ids": ["../x"]},), "invalid_payload"),
    ("overview", ({"conversation_ids": [22]},), "invalid_payload"),
    ("overview", ({"conversation_ids": ["B" * 22] * 501},), "invalid_payload"),
    ("queue", ({"extra": 1},), "invalid_payload"),
    ("open", ({},), "unknown_event"),
]


async def _all_refused(client: Any, cases: list[tuple[str, tuple[Any, ...], str]]) -> None:
    for event, args, code in cases:
        ack = await client.emit_raw(event, *args, encode=False)  # exactly as written
        assert isinstance(ack, dict) and "error" in ack, (event, args, ack)
        assert ack["error"]["code"] == code, (event, args, ack)
        assert ack["error"]["message"], (event, args)
        assert client.connected, (event, args)


async def test_youth_bad_events_each_get_their_code_and_the_chat_goes_on(
    harness: Harness, server: ServerProcess
) -> None:
    youth = await harness.youth(open_=False)
    await _all_refused(youth, YOUTH_BEFORE_OPEN)
    await youth.open()
    await youth.send(b"accepted before")
    await _all_refused(youth, YOUTH_AFTER_OPEN)
    # Still usable, and nothing was lost or added by the refused events.
    await youth.send(b"accepted after")
    history = await youth.history(0)
    assert [m["body"] for m in history["messages"]] == [b"accepted before", b"accepted after"]
    assert len(YOUTH_BEFORE_OPEN) + len(YOUTH_AFTER_OPEN) + len(STAFF) >= 20


async def test_staff_bad_events_each_get_their_code(
    harness: Harness, server: ServerProcess
) -> None:
    counsellor = await harness.staff("wim", Role.COUNSELLOR)
    await _all_refused(counsellor, STAFF)
    youth = await harness.youth()
    assert youth.conversation_id
    await counsellor.accept(youth.conversation_id)
    await counsellor.send(youth.conversation_id, b"still works")
    # State rules: after the end, neither side can write and wrap-up closes it once.
    assert await youth.end() == "ended"
    ack = await youth.emit_raw("send", {"body": to_wire(b"too late")})
    assert ack["error"]["code"] == "invalid_state"
    ack = await counsellor.emit_raw("send", {"conversation_id": youth.conversation_id,
                                             "body": to_wire(b"too late")})
    assert ack["error"]["code"] == "invalid_state"
    await counsellor.wrapup(youth.conversation_id, "sexual", "12_15", "police")
    ack = await counsellor.emit_raw("wrapup", {
        "conversation_id": youth.conversation_id, "form": "sexual", "age_band": "12_15",
        "referral": "police"})
    assert ack["error"]["code"] == "invalid_state"  # already closed
    assert await counsellor.whoami() == {"username": "wim", "role": "counsellor", "languages": [],
                                         "max_conversations": 3}


async def test_an_oversized_frame_closes_only_that_connection(
    harness: Harness, server: ServerProcess
) -> None:
    youth = await harness.youth(reconnection=False)
    bystander = await harness.youth()
    with pytest.raises(Exception):  # noqa: B017 - the socket is closed under the call
        await youth.emit_raw("send", {"body": to_wire(b"x" * (70 * 1024))}, timeout=3)
    await youth.wait_until(lambda: not youth.connected)
    # The server and everyone else are fine.
    await bystander.send(b"unaffected")
    assert (await bystander.history(0))["messages"][0]["body"] == b"unaffected"


@pytest.mark.parametrize(("body", "content_type", "status", "code"), [
    (b"not json", "application/json", 400, "invalid_payload"),
    (b'["a", "list"]', "application/json", 400, "invalid_payload"),
    (b'{"username": "x"}', "application/json", 400, "invalid_payload"),
    (b'{"username": "ab", "password": "p", "more": 1}', "application/json", 400,
     "invalid_payload"),
    (b"{" + b" " * (70 * 1024) + b"}", "application/json", 413, "too_large"),
])
async def test_bad_login_requests(
    server: ServerProcess, body: bytes, content_type: str, status: int, code: str
) -> None:
    async with aiohttp.ClientSession() as http, http.post(
        f"{server.url}/api/login", data=body, headers={"Content-Type": content_type}
    ) as resp:
        assert resp.status == status
        assert (await resp.json())["error"]["code"] == code
        assert resp.headers["Referrer-Policy"] == "no-referrer"


async def test_clients_cannot_fire_connect_or_disconnect_handlers(
    harness: Harness, server: ServerProcess
) -> None:
    counsellor = await harness.staff("xia")
    youth = await harness.youth()
    assert youth.conversation_id
    await counsellor.accept(youth.conversation_id)
    for event in ("connect", "disconnect"):
        ack = await youth.emit_raw(event, {})
        assert ack["error"]["code"] == "unknown_event", event
        ack = await counsellor.emit_raw(event, {})
        assert ack["error"]["code"] == "unknown_event", event
    # The connection kept its conversation, and nobody was told it went away.
    assert (await youth.history(0))["last_seq"] == 0
    ack = await youth.emit_raw("open", {})
    assert ack["error"]["code"] == "already_open"
    assert counsellor.events("presence") == []


async def test_one_connections_messages_are_stored_in_the_order_sent(
    harness: Harness, server: ServerProcess
) -> None:
    youth = await harness.youth()
    bodies = [f"{i:03}".encode() for i in range(60)]
    await asyncio.gather(*(youth.send(body) for body in bodies))  # no waiting for acks
    stored = (await youth.history(0))["messages"]
    assert [m["body"] for m in stored] == bodies


async def test_resend_ids_are_per_sender(harness: Harness, server: ServerProcess) -> None:
    counsellor = await harness.staff("yusuf")
    youth = await harness.youth()
    cid = youth.conversation_id
    assert cid
    await counsellor.accept(cid)
    mine = await youth.call("send", {"body": b"from youth", "client_msg_id": "m-1"})
    theirs = await counsellor.call("send", {"conversation_id": cid, "body": b"from staff",
                                            "client_msg_id": "m-1"})
    assert (mine["seq"], theirs["seq"]) == (1, 2)
    assert [m["body"] for m in (await youth.history(0))["messages"]] == [b"from youth",
                                                                        b"from staff"]


async def test_unknown_http_paths_answer_in_json(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/no/such/page") as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["code"] == "not_found"
            assert resp.headers["Referrer-Policy"] == "no-referrer"
        async with http.get(f"{server.url}/api/login") as resp:
            assert resp.status == 405
            assert (await resp.json())["error"]["code"] == "invalid_payload"


async def test_the_signing_key_comes_with_epoch_one_only(
    harness: Harness, server: ServerProcess
) -> None:
    from helpline.crypto.epochs import EpochReader, ReaderKind, sign_epoch_statement
    from helpline.crypto.keys import SigningKeyPair
    from helpline.crypto.statements import key_statement_from_dict

    await harness.init_keys()
    youth = await harness.youth()  # plain client: no epoch yet
    assert youth.conversation_id
    cid = youth.conversation_id
    team = (await youth.call("keys"))["team"]
    fp = key_statement_from_dict(team).statement.public_key.fingerprint
    wraps = [{"recipient": fp, "wrap": to_wire(b"w" * 82)}]
    mine, other = SigningKeyPair.generate(), SigningKeyPair.generate()

    def statement(epoch: int, signer: SigningKeyPair = mine,
                  fingerprint: str = fp) -> dict[str, object]:
        return sign_epoch_statement(
            conversation_id=cid, epoch=epoch, epoch_key=bytes(32),
            readers=[EpochReader(ReaderKind.TEAM, fingerprint)], consent=None,
            signing_key=signer).to_wire()

    key = to_wire(mine.public.raw)
    ack = await youth.emit_raw("epoch", {"epoch": 1, "wraps": wraps,
                                         "statement": statement(1)})
    assert ack["error"]["code"] == "invalid_payload"  # no signing_key with epoch 1
    ack = await youth.emit_raw("epoch", {"epoch": 1, "wraps": wraps, "signing_key": key})
    assert ack["error"]["code"] == "invalid_payload"  # no statement
    for bad in (statement(1, other), statement(2), statement(1, fingerprint="ab" * 32)):
        ack = await youth.emit_raw("epoch", {"epoch": 1, "wraps": wraps,
                                             "signing_key": key, "statement": bad})
        assert ack["error"]["code"] == "epoch_invalid", bad
    ack = await youth.emit_raw("epoch", {"epoch": 1, "wraps": wraps, "signing_key": key,
                                         "statement": statement(1) | {"v": 1}})
    assert ack["error"]["code"] == "epoch_invalid"  # the v1 format is refused
    ack = await youth.emit_raw("epoch", {"epoch": 1, "wraps": wraps, "signing_key": key,
                                         "statement": statement(1)})
    assert ack == {"ok": {"epoch": 1}}
    ack = await youth.emit_raw("epoch", {"epoch": 2, "wraps": wraps, "signing_key": key,
                                         "statement": statement(2)})
    assert ack["error"]["code"] == "invalid_payload"
    ack = await youth.emit_raw("epoch", {"epoch": 2, "wraps": wraps,
                                         "statement": statement(2, other)})
    assert ack["error"]["code"] == "epoch_invalid"  # later epochs: the key of epoch 1
    ack = await youth.emit_raw("epoch", {"epoch": 3, "wraps": wraps,
                                         "statement": statement(3)})
    assert ack["error"]["code"] == "invalid_state"  # epochs move on by one
