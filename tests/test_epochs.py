"""Encryption v2: only the young person decides who reads an epoch (issue 10).

Through a real server, real Redis and the real clients:
- an epoch the server (or a holder of the resume token) chose is refused by the
  counsellor's client, which never encrypts to its key (finding 1);
- one key for every reader: a police wrap of another key is caught (finding 5);
- the consent's expiry is enforced by the keys and by the server (finding 3);
- message lengths do not show on the wire (padding).
"""

from __future__ import annotations

import asyncio
import json

import pytest

from helpline.client import ClientError, YouthClient
from helpline.crypto.epochs import EpochReader, ReaderKind, sign_epoch_statement
from helpline.crypto.errors import WrongEpoch
from helpline.crypto.keys import SigningKeyPair, generate_epoch_key
from helpline.crypto.reader import TranscriptReader
from helpline.crypto.wrap import unwrap_conversation_key, wrap_conversation_key
from helpline.protocol import to_wire
from tests.conftest import Harness, ServerProcess
from tests.test_handover import _offer, _refused, _setup


async def _server_epoch(harness: Harness, youth: YouthClient, cid: str, epoch: int,
                        signer: SigningKeyPair) -> bytes:
    """What a hostile server (or a Redis writer) does: start an epoch with a key it chose,
    wrapped for the public team key, with a statement signed by a key of its own."""
    assert youth._team is not None
    key = generate_epoch_key()
    statement = sign_epoch_statement(
        conversation_id=cid, epoch=epoch, epoch_key=key,
        readers=[EpochReader(ReaderKind.TEAM, youth._team.fingerprint)], consent=None,
        signing_key=signer)
    wrap = wrap_conversation_key(key, youth._team, conversation_id=cid, epoch=epoch)
    r = await harness.redis()
    await r.hset(f"{harness.prefix}conv:{cid}:e2e", mapping={
        "epoch": epoch, f"statement:{epoch}": json.dumps(statement.to_wire())})
    await r.hset(f"{harness.prefix}conv:{cid}:wraps", f"{epoch}:{youth._team.fingerprint}", wrap)
    await r.aclose()
    return key


async def test_a_server_chosen_epoch_is_refused_by_the_counsellor(
    harness: Harness, server: ServerProcess
) -> None:
    youth, counsellor, _police, cid = await _setup(harness)
    # Acting as the young person with the resume token alone is not enough: the
    # server refuses an epoch the conversation's key did not sign ...
    impostor = YouthClient(server.url, pinned_fingerprint=harness.fingerprint)
    harness.clients.append(impostor)
    await impostor.connect()
    await impostor.resume(youth.resume_token)
    assert impostor.keyring is not None and youth._team is not None
    impostor._team = youth._team
    wraps, statement = impostor.keyring.new_epoch(cid, youth._team)
    ack = await impostor.emit_raw("epoch", to_wire({"epoch": 2, "wraps": wraps,
                                                    "statement": statement.to_wire()}))
    _refused(ack, "epoch_invalid")
    # ... and a server that writes one into Redis itself gets nothing from the
    # counsellor's client: it refuses to send, and cannot read a message sealed in it.
    chosen = await _server_epoch(harness, youth, cid, 2, SigningKeyPair.generate())
    # (and announces it, as it would with the `epoch` event)
    await counsellor._on_epoch({"conversation_id": cid, "epoch": 2})
    with pytest.raises(ClientError) as refused:
        await counsellor.send_text(cid, "are you still there?")
    assert refused.value.code == "epoch_unverified"
    assert len(counsellor.messages(cid)) == 2  # nothing was sent
    assert await counsellor.readers(cid) == ["team"]  # the last epoch that verified
    # Its key is never taken: the epoch is refused with the reason, so any message
    # sealed in it shows as refused instead of being read.
    assert counsellor.keyring is not None
    verified = counsellor.keyring.verified_epochs(cid, await counsellor.conversation_keys(cid))
    assert chosen not in verified.keys.values()
    assert verified.refused[2].code == "epoch_unverified"


async def test_only_the_committed_key_is_used_by_every_reader(
    harness: Harness, server: ServerProcess
) -> None:
    youth, counsellor, police, cid = await _setup(harness)
    await _offer(youth, counsellor, cid)
    await youth.answer_handover(True)  # epoch 2: team and police, one key
    await police.police_join(cid)
    await youth.send_text("the same words for both of you")
    await police.wait_until(lambda: len(police.messages(cid)) == 1)
    await counsellor.wait_until(lambda: len(counsellor.messages(cid)) == 3)
    assert [m.text for m in await police.read(cid)] == ["the same words for both of you"]
    assert (await counsellor.read(cid))[-1].text == "the same words for both of you"
    assert await police.readers(cid) == ["team", "police"]
    # A widget (or anyone with the conversation key) that wraps another key for the
    # police than the one it committed to is caught by the police client: the
    # statement commits to one key, so all readers open the same bytes.
    ring = youth.keyring
    assert ring is not None and youth._team is not None and youth._police is not None
    committed, other = generate_epoch_key(), generate_epoch_key()
    statement = sign_epoch_statement(
        conversation_id=cid, epoch=3, epoch_key=committed,
        readers=[EpochReader(ReaderKind.TEAM, youth._team.fingerprint),
                 EpochReader(ReaderKind.POLICE, youth._police.fingerprint)],
        consent=youth._consent, signing_key=ring.signing)
    await youth.call("epoch", {"epoch": 3, "statement": statement.to_wire(), "wraps": [
        {"recipient": youth._team.fingerprint, "wrap": wrap_conversation_key(
            committed, youth._team, conversation_id=cid, epoch=3)},
        {"recipient": youth._police.fingerprint, "wrap": wrap_conversation_key(
            other, youth._police, conversation_id=cid, epoch=3)}]})
    keys = await police.conversation_keys(cid)
    assert police.keyring is not None
    verified = police.keyring.verified_epochs(cid, keys)
    assert 3 not in verified.keys and verified.refused[3].code == "key_mismatch"
    await police._on_epoch({"conversation_id": cid, "epoch": 3})
    with pytest.raises(ClientError) as refused:
        await police.send_text(cid, "hello")
    assert refused.value.code == "key_mismatch"
    assert counsellor.keyring is not None
    assert 3 in counsellor.keyring.verified_epochs(
        cid, await counsellor.conversation_keys(cid)).keys


async def test_an_expired_consent_ends_the_police_part_and_shuts_the_police_key_out(
    harness: Harness, server: ServerProcess
) -> None:
    youth, counsellor, police, cid = await _setup(harness)
    await _offer(youth, counsellor, cid)
    await youth.answer_handover(True, valid_seconds=3)
    await police.police_join(cid)
    assert youth.readers == ["team", "police"]
    police_epoch = youth.keyring.epoch if youth.keyring else 0
    await asyncio.sleep(3.2)
    # The officer's next event finds the consent expired: refused, and everyone is told.
    _refused(await police.emit_raw("send", {"conversation_id": cid, "body": to_wire(b"x" * 400)}),
             "not_found")
    for client in (youth, counsellor, police):
        await client.wait_for("handover", lambda d: d["handover"] == "expired", timeout=5)
    # The young person's client re-keys by itself: team only from here.
    await youth.wait_until(lambda: youth.readers == ["team"], timeout=5)
    assert youth.keyring is not None and youth.keyring.epoch == police_epoch + 1
    await youth.send_text("after the expiry")
    await counsellor.wait_until(lambda: len(counsellor.messages(cid)) == 3)
    assert (await counsellor.read(cid))[-1].text == "after the expiry"
    # The police unit key opens nothing of the new epoch: no wrap was made for it ...
    keys = await counsellor.conversation_keys(cid)
    new_epoch = youth.keyring.epoch
    assert police.keyring is not None
    police_fps = set(police.keyring.unit_keys)
    assert [w for w in keys["wraps"] if w["epoch"] == new_epoch
            and w["recipient"] in police_fps] == []
    # ... and even a server that kept handing the officer the ciphertext gives them
    # a body they cannot open.
    body = counsellor.messages(cid)[-1]["body"]
    reader = TranscriptReader(cid)
    for wrap in keys["wraps"]:
        pair = police.keyring.unit_keys.get(wrap["recipient"])
        if pair is not None:
            reader.add_epoch_key(wrap["epoch"], unwrap_conversation_key(
                bytes(wrap["wrap"]), pair, conversation_id=cid, epoch=wrap["epoch"]))
    with pytest.raises(WrongEpoch):
        reader.open(bytes(body))


async def test_the_job_ends_an_expired_police_part_without_any_officer_event(
    harness: Harness
) -> None:
    server = harness.server(HELPLINE_JOB_INTERVAL_SECONDS="1")
    youth, counsellor, police, cid = await _setup(harness)
    assert server.url
    await _offer(youth, counsellor, cid)
    await youth.answer_handover(True, valid_seconds=2)
    await police.police_join(cid)
    await youth.wait_for("handover", lambda d: d["handover"] == "expired", timeout=8)
    await youth.wait_until(lambda: youth.readers == ["team"], timeout=5)
    assert await police.held() == []
    assert await police.handover_requests() == []


async def test_a_counsellor_does_not_send_in_an_epoch_whose_consent_lapsed(
    harness: Harness, server: ServerProcess
) -> None:
    youth, counsellor, police, cid = await _setup(harness)
    await _offer(youth, counsellor, cid)
    await youth.answer_handover(True, valid_seconds=2)
    await police.police_join(cid)
    # The young person goes offline before the expiry: nobody re-keys.
    await youth.disconnect()
    await asyncio.sleep(2.2)
    with pytest.raises(ClientError) as refused:
        await counsellor.send_text(cid, "hello?")
    assert refused.value.code == "consent_lapsed"


async def test_message_lengths_do_not_show_on_the_wire(
    harness: Harness, server: ServerProcess
) -> None:
    await harness.init_keys()
    counsellor = await harness.secure_staff("carmen")
    youth = await harness.secure_youth()
    assert youth.conversation_id
    await counsellor.accept(youth.conversation_id)
    await youth.send_text("ja")
    await youth.send_text("hij houdt mijn paspoort en zegt dat ik hem geld schuld ben")
    sizes = {len(m["body"]) for m in youth.messages}
    assert len(sizes) == 1  # both 256 bytes of padded plaintext inside


async def _come_back(harness: Harness, server: ServerProcess, code: str) -> YouthClient:
    back = YouthClient(server.url, pinned_fingerprint=harness.fingerprint)
    harness.clients.append(back)
    await back.connect()
    await back.resume_with_code(code)
    return back


async def _code_wrap(harness: Harness, cid: str, blob: bytes | None = None) -> bytes:
    """Read the stored code wrap, or (a hostile server) put an older one back."""
    r = await harness.redis()
    key = f"{harness.prefix}conv:{cid}:e2e"
    if blob is not None:
        await r.hset(key, "code_wrap", blob)
    out = await r.hget(key, "code_wrap")
    await r.aclose()
    assert out is not None
    return bytes(out)


async def test_a_rolled_back_code_wrap_does_not_put_the_police_back(
    harness: Harness, server: ServerProcess
) -> None:
    youth, counsellor, police, cid = await _setup(harness)
    code = await youth.request_return_code()
    await _offer(youth, counsellor, cid)
    await youth.answer_handover(True)
    await police.police_join(cid)
    police_blob = await _code_wrap(harness, cid)  # wrapped in the police epoch (2)
    await youth.withdraw_handover()  # epoch 3, team only, and a new code wrap
    assert youth.readers == ["team"]
    # The server hands back the blob of the police epoch, consent and all.
    await _code_wrap(harness, cid, police_blob)
    back = await _come_back(harness, server, code)
    assert back.restored_police is not None  # the old blob did say "police" ...
    assert back.readers == ["team"]  # ... but the client re-keyed without them
    assert back.keyring is not None and back.keyring.epoch == 4
    keys = await counsellor.conversation_keys(cid)
    assert police.keyring is not None
    assert {w["recipient"] for w in keys["wraps"] if w["epoch"] == 4} \
        .isdisjoint(police.keyring.unit_keys)
    await back.send_text("I came back")
    await counsellor.wait_until(lambda: len(counsellor.messages(cid)) == 3)
    assert (await counsellor.read(cid))[-1].text == "I came back"


async def test_coming_back_in_a_police_epoch_shows_the_police_as_readers(
    harness: Harness, server: ServerProcess
) -> None:
    youth, counsellor, police, cid = await _setup(harness)
    code = await youth.request_return_code()
    await _offer(youth, counsellor, cid)
    await youth.answer_handover(True)
    await police.police_join(cid)
    back = await _come_back(harness, server, code)
    # The latest epoch, a live consent the code wrap names: nothing to hide or change.
    assert back.readers == ["team", "police"]
    assert back.keyring is not None and back.keyring.epoch == 2
    # And the restored client re-keys when the officer leaves, as the first one would.
    await youth.disconnect()
    await police.police_leave(cid)
    await back.wait_until(lambda: back.readers == ["team"], timeout=5)
    assert back.keyring.epoch == 3


async def test_coming_back_after_the_consent_expired_re_keys_to_the_team(
    harness: Harness, server: ServerProcess
) -> None:
    youth, counsellor, _police, cid = await _setup(harness)
    code = await youth.request_return_code()
    await _offer(youth, counsellor, cid)
    await youth.answer_handover(True, valid_seconds=2)
    await youth.disconnect()  # gone before the expiry: nobody re-keyed
    await asyncio.sleep(2.2)
    back = await _come_back(harness, server, code)
    assert back.readers == ["team"]
    assert back.keyring is not None and back.keyring.epoch == 3
