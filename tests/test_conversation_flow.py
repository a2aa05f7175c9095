"""A whole conversation, from the young person opening it to the counsellor's wrap-up."""

from __future__ import annotations

from tests.conftest import Harness, ServerProcess, http_get


async def test_health_reports_redis(server: ServerProcess) -> None:
    status, body = await http_get(f"{server.url}/healthz")
    assert status == 200
    assert body == {"status": "ok", "redis": True}


async def test_full_conversation_from_open_to_wrapup(
    harness: Harness, server: ServerProcess
) -> None:
    counsellor = await harness.staff("anna")
    youth = await harness.youth(open_=False)
    opened = await youth.open(language="nl")
    cid = opened["conversation_id"]
    assert opened["state"] == "queued"
    assert opened["position"] == 1
    assert len(cid) == 22  # 128 random bits, url-safe base64

    # The counsellor sees it in the live queue, with its language.
    queue = await counsellor.wait_for("queue", lambda d: any(
        e["conversation_id"] == cid for e in d["joined"]))
    entry = next(e for e in queue["joined"] if e["conversation_id"] == cid)
    assert entry["language"] == "nl" and entry["position"] == 1
    assert queue["queue_length"] == 1 and queue["left"] == []
    # The same entry as the `queue` call gives (waiting_ms is counted at each answer).
    [listed] = await counsellor.queue()
    assert {**listed, "waiting_ms": 0} == {**entry, "waiting_ms": 0}

    # The young person writes while waiting; the counsellor gets it on accept.
    await youth.send(b"\x01waiting-ciphertext")
    accepted = await counsellor.accept(cid)
    assert accepted["state"] == "active" and accepted["counsellor"] == "anna"
    await youth.wait_for("state", lambda d: d["state"] == "active")
    assert [m["body"] for m in counsellor.messages(cid)] == [b"\x01waiting-ciphertext"]

    # Both sides chat; typing is relayed to the other side only.
    await counsellor.typing(cid, True)
    typing = await youth.wait_for("typing")
    assert typing == {"conversation_id": cid, "role": "counsellor", "typing": True}
    await counsellor.send(cid, b"\x02hello")
    await youth.wait_until(lambda: len(youth.messages) == 2)
    await youth.send(b"\x03hi")
    await counsellor.wait_until(lambda: len(counsellor.messages(cid)) == 3)
    assert [(m["seq"], m["sender_role"], m["body"]) for m in youth.messages] == [
        (1, "youth", b"\x01waiting-ciphertext"),
        (2, "counsellor", b"\x02hello"),
        (3, "youth", b"\x03hi"),
    ]
    assert [m["seq"] for m in counsellor.messages(cid)] == [1, 2, 3]

    # The young person ends it; the counsellor files the wrap-up and it is closed.
    assert await youth.end() == "ended"
    await counsellor.wait_for("state", lambda d: d["state"] == "ended")
    assert [c["conversation_id"] for c in await counsellor.held()] == [cid]
    await counsellor.wrapup(cid, form="criminal", age_band="16_17", referral="care")
    await youth.wait_for("state", lambda d: d["state"] == "closed")
    assert await counsellor.held() == []

    # What Redis holds: the wrap-up, and no device data of any kind.
    r = await harness.redis()
    conv = await r.hgetall(f"{harness.prefix}conv:{cid}")
    await r.aclose()
    assert conv[b"state"] == b"closed"
    assert conv[b"wrapup_form"] == b"criminal"
    assert conv[b"wrapup_referral"] == b"care"
    stored_fields = {k.decode() for k in conv}
    assert not stored_fields & {"ip", "user_agent", "address", "cookie", "remote"}
