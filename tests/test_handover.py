"""Police handover: only with the young person's signed consent, and out at once when
it is withdrawn. Real server, real Redis, the Python clients."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from helpline.client import StaffClient, YouthClient
from helpline.crypto.consent import Consent, consent_from_wire, sign_consent
from helpline.crypto.epochs import EpochReader, ReaderKind, sign_epoch_statement
from helpline.crypto.keys import (
    EncryptionKeyPair,
    EncryptionPublicKey,
    SigningKeyPair,
    generate_epoch_key,
)
from helpline.crypto.statements import key_statement_from_dict
from helpline.crypto.wrap import wrap_conversation_key
from helpline.domain.roles import Role
from helpline.protocol import to_wire
from tests.conftest import Harness, ServerProcess


async def _setup(harness: Harness) -> tuple[YouthClient, StaffClient, StaffClient, str]:
    await harness.init_keys()
    counsellor = await harness.secure_staff("carmen")
    police = await harness.secure_staff("agent-jansen", Role.POLICE)
    youth = await harness.secure_youth()
    cid = youth.conversation_id
    assert cid
    await counsellor.accept(cid)
    await youth.send_text("they make me sell for them")
    await counsellor.send_text(cid, "thank you for telling me")
    await youth.wait_until(lambda: len(youth.messages) == 2)
    return youth, counsellor, police, cid


async def _offer(youth: YouthClient, counsellor: StaffClient, cid: str) -> dict[str, Any]:
    await counsellor.offer_handover(cid)
    return await youth.wait_for("handover_offer", lambda d: d["conversation_id"] == cid)


async def _joined(youth: YouthClient, counsellor: StaffClient, police: StaffClient,
                  cid: str, share_history: bool = False) -> None:
    """Offer, the young person's yes, and the officer in."""
    await _offer(youth, counsellor, cid)
    await youth.answer_handover(True, share_history=share_history)
    await police.police_join(cid)


def _refused(ack: object, code: str) -> None:
    """A refusal says only its code and a message: no ciphertext, no metadata."""
    assert isinstance(ack, dict) and set(ack) == {"error"}, ack
    assert set(ack["error"]) == {"code", "message"} and ack["error"]["code"] == code, ack


async def test_with_consent_and_no_shared_history_police_read_only_from_the_handover(
    harness: Harness, server: ServerProcess
) -> None:
    youth, counsellor, police, cid = await _setup(harness)
    assert await police.handover_requests() == []
    offer = await _offer(youth, counsellor, cid)
    assert "politieagent" in offer["text"] and offer["police"]["kind"] == "police-key"
    await youth.answer_handover(True, share_history=False)
    assert youth.readers == ["team", "police"]
    await counsellor.wait_for("handover", lambda d: d["handover"] == "consented")
    requests = await police.handover_requests()
    assert [r["conversation_id"] for r in requests] == [cid]
    assert requests[0]["share_history"] is False

    await police.police_join(cid)
    await youth.wait_for("handover", lambda d: d["handover"] == "joined")
    assert police.messages(cid) == []  # nothing from before, not even ciphertext
    keys = await police.conversation_keys(cid)
    assert [w["epoch"] for w in keys["wraps"]] == [2]  # only the police epoch

    await youth.send_text("I want to tell the police")
    await police.wait_until(lambda: len(police.messages(cid)) == 1)
    await police.send_text(cid, "I am here to listen")
    await youth.wait_until(lambda: len(youth.messages) == 4)
    await counsellor.wait_until(lambda: len(counsellor.messages(cid)) == 4)
    assert [(m.seq, m.sender_role, m.text) for m in await police.read(cid)] == [
        (3, "youth", "I want to tell the police"), (4, "police", "I am here to listen")]
    assert [(m.sender_role, m.sender, m.text) for m in await youth.read()][-1] == (
        "police", "agent-jansen", "I am here to listen")
    assert [m.text for m in await counsellor.read(cid)] == [
        "they make me sell for them", "thank you for telling me",
        "I want to tell the police", "I am here to listen"]
    # Even with the old ciphertext in hand, the police hold no key for epoch 1.
    old = (await counsellor.history(cid))["messages"][:2]
    fresh = await harness.secure_staff("agent-jansen", Role.POLICE, create=False)
    reader, _ = fresh.keyring.reader(cid, await fresh.conversation_keys(cid))  # type: ignore[union-attr]
    for envelope in old:
        with pytest.raises(Exception, match="no key for epoch 1"):
            reader.open(envelope["body"])


async def test_with_shared_history_police_read_everything(
    harness: Harness, server: ServerProcess
) -> None:
    youth, counsellor, police, cid = await _setup(harness)
    await _joined(youth, counsellor, police, cid, share_history=True)
    await youth.send_text("and this is new")
    await police.wait_until(lambda: len(police.messages(cid)) == 3)
    assert [(m.text, m.error) for m in await police.read(cid)] == [
        ("they make me sell for them", None), ("thank you for telling me", None),
        ("and this is new", None)]


async def test_withdrawal_removes_police_at_once_and_locks_the_next_epoch(
    harness: Harness, server: ServerProcess
) -> None:
    youth, counsellor, police, cid = await _setup(harness)
    await _joined(youth, counsellor, police, cid)
    await police.send_text(cid, "hello")

    started = time.monotonic()
    await youth.withdraw_handover()
    await police.wait_for("handover", lambda d: d["handover"] == "withdrawn", timeout=1)
    _refused(await police.emit_raw("send", {"conversation_id": cid, "body": b"x"}), "not_found")
    assert time.monotonic() - started < 1.0
    assert youth.readers == ["team"]
    await counsellor.wait_for("handover", lambda d: d["handover"] == "withdrawn")

    await youth.send_text("only for the counsellor now")
    await counsellor.wait_until(lambda: len(counsellor.messages(cid)) == 4)
    assert (await counsellor.read(cid))[-1].text == "only for the counsellor now"
    assert all(m["body"] != counsellor.messages(cid)[-1]["body"]
               for m in police.messages(cid))  # not delivered to the officer
    for event, payload in [("history", {"conversation_id": cid, "after_seq": 0}),
                           ("conversation_keys", {"conversation_id": cid}),
                           ("police_join", {"conversation_id": cid})]:
        _refused(await police.emit_raw(event, payload), "not_found")
    # The new epoch's key was never wrapped for the police unit.
    r = await harness.redis()
    wraps = await r.hkeys(f"{harness.prefix}conv:{cid}:wraps")
    await r.aclose()
    police_fp = youth._police.fingerprint  # type: ignore[union-attr]
    assert sorted(k.decode() for k in wraps if k.decode().endswith(police_fp)) == [
        f"2:{police_fp}"]


async def test_no_consent_no_police(harness: Harness, server: ServerProcess) -> None:
    youth, counsellor, police, cid = await _setup(harness)
    for event, payload in [("police_join", {"conversation_id": cid}),
                           ("history", {"conversation_id": cid, "after_seq": 0}),
                           ("conversation_keys", {"conversation_id": cid}),
                           ("send", {"conversation_id": cid, "body": b"x"}),
                           ("queue", {}), ("overview", {})]:
        ack = await police.emit_raw(event, payload)
        _refused(ack, "forbidden" if event in ("queue", "overview") else "not_found")
    # Declining keeps them out too.
    await _offer(youth, counsellor, cid)
    await youth.answer_handover(False)
    await counsellor.wait_for("handover", lambda d: d["handover"] == "declined")
    assert await police.handover_requests() == []
    _refused(await police.emit_raw("police_join", {"conversation_id": cid}), "not_found")
    # A wrap for the police unit without a consent on record is refused.
    directory = await youth.call("keys")
    police_fp = key_statement_from_dict(directory["police"]).statement.public_key.fingerprint
    police_key = key_statement_from_dict(directory["police"]).statement.public_key
    consent = sign_consent(cid, police_fp, False, int(time.time()) + 600,
                           youth.keyring.signing)  # type: ignore[union-attr]
    _refused(await youth.emit_raw("epoch", to_wire(_epoch_payload(youth, cid, 2, police_key,
                                                                      consent))),
             "forbidden")


def _epoch_payload(youth: YouthClient, cid: str, epoch: int, police: EncryptionPublicKey,
                   consent: Consent) -> dict[str, Any]:
    """A police epoch exactly as the young person's own client would sign it."""
    ring = youth.keyring
    assert ring is not None and youth._team is not None
    key = generate_epoch_key()
    statement = sign_epoch_statement(
        conversation_id=cid, epoch=epoch, epoch_key=key,
        readers=[EpochReader(ReaderKind.TEAM, youth._team.fingerprint),
                 EpochReader(ReaderKind.POLICE, police.fingerprint)],
        consent=consent, signing_key=ring.signing)
    return {"epoch": epoch, "statement": statement.to_wire(), "wraps": [
        {"recipient": r.fingerprint,
         "wrap": wrap_conversation_key(key, r, conversation_id=cid, epoch=epoch)}
        for r in (youth._team, police)]}


def _consent_wire(youth: YouthClient, cid: str, **changes: Any) -> dict[str, Any]:
    police = youth.offer["police"]  # type: ignore[index]
    police_fp = key_statement_from_dict(police).statement.public_key.fingerprint
    args: dict[str, Any] = {"conversation_id": cid, "police_fingerprint": police_fp,
                            "share_history": False, "expires_at": int(time.time()) + 600,
                            "signing_key": youth.keyring.signing}  # type: ignore[union-attr]
    args.update(changes)
    return sign_consent(args["conversation_id"], args["police_fingerprint"],
                        args["share_history"], args["expires_at"], args["signing_key"]).to_wire()


@pytest.mark.parametrize(("case", "code"), [
    ("forged", "consent_invalid"),
    ("other_conversation", "consent_invalid"),
    ("other_police_key", "consent_invalid"),
    ("expired", "consent_expired"),
    ("too_long", "consent_expired"),
])
async def test_bad_consents_are_refused(
    harness: Harness, server: ServerProcess, case: str, code: str
) -> None:
    youth, counsellor, police, cid = await _setup(harness)
    await _offer(youth, counsellor, cid)
    other = await harness.secure_youth()
    changes: dict[str, Any] = {
        "forged": {"signing_key": SigningKeyPair.generate()},
        "other_conversation": {"conversation_id": other.conversation_id},
        "other_police_key": {"police_fingerprint":
                             EncryptionKeyPair.generate().public.fingerprint},
        "expired": {"expires_at": int(time.time()) - 1},
        "too_long": {"expires_at": int(time.time()) + 3 * 24 * 3600},
    }[case]
    ack = await youth.emit_raw("handover_answer", {
        "offer_id": youth.offer["offer_id"], "accept": True,  # type: ignore[index]
        "consent": _consent_wire(youth, cid, **changes)})
    _refused(ack, code)
    assert await police.handover_requests() == []
    _refused(await police.emit_raw("police_join", {"conversation_id": cid}), "not_found")


async def test_a_replayed_or_withdrawn_consent_is_refused(
    harness: Harness, server: ServerProcess
) -> None:
    youth, counsellor, police, cid = await _setup(harness)
    await _offer(youth, counsellor, cid)
    wire = _consent_wire(youth, cid)
    first_offer = youth.offer["offer_id"]  # type: ignore[index]
    ok = await youth.call("handover_answer", {"offer_id": first_offer, "accept": True,
                                              "consent": wire})
    assert ok == {"handover": "consented"}
    await youth.call("handover_withdraw")
    _refused(await police.emit_raw("police_join", {"conversation_id": cid}), "not_found")
    # The counsellor asks again; the old consent is replayed against the new offer.
    await counsellor.offer_handover(cid)
    await youth.wait_for("handover_offer", lambda d: d["offer_id"] != first_offer)
    ack = await youth.emit_raw("handover_answer", {
        "offer_id": youth.offer["offer_id"], "accept": True, "consent": wire})  # type: ignore[index]
    _refused(ack, "consent_replayed")
    assert await police.handover_requests() == []


async def test_a_server_cannot_add_a_reader_the_client_did_not_wrap_for(
    harness: Harness, server: ServerProcess
) -> None:
    youth, _counsellor, police, cid = await _setup(harness)
    # A malicious server marks the officer as joined, without any consent.
    r = await harness.redis()
    await r.hset(f"{harness.prefix}conv:{cid}", mapping={
        "handover": "joined", "police_officer": "agent-jansen", "police_share": "1",
        "police_expires": int(time.time()) + 600})
    await r.sadd(f"{harness.prefix}conv:{cid}:who", "agent-jansen")
    await r.aclose()
    page = await police.history(cid)
    assert len(page["messages"]) == 2  # the server hands over ciphertext ...
    for envelope in page["messages"]:
        police.transcript(cid).add(envelope)
    read = await police.read(cid)
    assert [m.text for m in read] == [None, None]  # ... that no police key opens
    # And the young person's client still shows who can read: only the team.
    assert youth.readers == ["team"]


async def test_the_counsellor_and_the_officer_can_end_the_police_part(
    harness: Harness, server: ServerProcess
) -> None:
    youth, counsellor, police, cid = await _setup(harness)
    await _joined(youth, counsellor, police, cid)
    await police.police_leave(cid)
    await youth.wait_for("handover", lambda d: d["handover"] == "left")
    await youth.wait_until(lambda: youth.readers == ["team"])
    _refused(await police.emit_raw("send", {"conversation_id": cid, "body": b"x"}), "not_found")
    await _offer(youth, counsellor, cid)
    await youth.answer_handover(True)
    await counsellor.end_handover(cid)
    await youth.wait_for("handover", lambda d: d["handover"] == "ended")
    _refused(await police.emit_raw("police_join", {"conversation_id": cid}), "not_found")
    chat_actions = {"accept", "handover_offer", "consent_given", "police_join",
                    "police_leave", "police_ended"}  # not the key, login and read entries
    shown = [e["action"] for e in await _audit(harness) if e["action"] in chat_actions]
    assert shown == ["accept", "handover_offer", "consent_given", "police_join",
                     "police_leave", "handover_offer", "consent_given", "police_ended"]


async def _audit(harness: Harness) -> list[dict[str, Any]]:
    r = await harness.redis()
    raw = await r.lrange(f"{harness.prefix}audit", 0, -1)
    await r.aclose()
    return [json.loads(x) for x in raw]


async def test_closing_the_conversation_ends_the_police_part(
    harness: Harness, server: ServerProcess
) -> None:
    youth, counsellor, police, cid = await _setup(harness)
    await _joined(youth, counsellor, police, cid)
    assert [c["conversation_id"] for c in await police.held()] == [cid]  # after a reconnect
    await counsellor.wrapup(cid, "criminal", "16_17", "police")
    await police.wait_for("state", lambda d: d["state"] == "closed")
    assert await police.held() == []
    _refused(await police.emit_raw("history", {"conversation_id": cid, "after_seq": 0}),
             "not_found")


async def test_a_refused_police_epoch_opens_nothing(
    harness: Harness, server: ServerProcess
) -> None:
    youth, counsellor, police, cid = await _setup(harness)
    await _offer(youth, counsellor, cid)
    wire = _consent_wire(youth, cid)
    await youth.call("handover_answer", {"offer_id": youth.offer["offer_id"],  # type: ignore[index]
                                         "accept": True, "consent": wire})
    police_key = key_statement_from_dict(youth.offer["police"]).statement.public_key  # type: ignore[index]
    # An epoch with a police wrap but the wrong number is refused ...
    _refused(await youth.emit_raw("epoch", to_wire(_epoch_payload(
        youth, cid, 7, police_key, consent_from_wire(cid, wire)))), "invalid_state")
    # ... and leaves no mark: there is still nothing for the police to join.
    assert await police.handover_requests() == []
    _refused(await police.emit_raw("police_join", {"conversation_id": cid}), "not_found")
