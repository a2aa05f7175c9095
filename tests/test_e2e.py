"""End-to-end encryption through a real server and Redis: the server stores only
what it cannot read, and every reader catches what a server could do to a body."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpline.client import ClientError, YouthClient
from helpline.crypto.errors import CryptoError
from helpline.crypto.keyfile import write_unencrypted_key_file
from helpline.crypto.keys import EncryptionKeyPair, SigningKeyPair
from helpline.crypto.statements import (
    KeyStatement,
    StatementKind,
    key_statement_from_json,
    key_statement_to_json,
    sign_key_statement,
)
from helpline.domain.roles import Role
from tests.conftest import Harness, ServerProcess

SECRETS = ["I have to carry packages for them", "they took my passport",
           "can someone help me tonight"]


async def _chat(harness: Harness) -> tuple[YouthClient, object, str]:
    counsellor = await harness.secure_staff("anouk")
    youth = await harness.secure_youth()
    cid = youth.conversation_id
    assert cid
    await counsellor.accept(cid)
    await youth.send_text(SECRETS[0])
    await counsellor.wait_until(lambda: len(counsellor.messages(cid)) == 1)
    await counsellor.send_text(cid, SECRETS[1])
    await youth.wait_until(lambda: len(youth.messages) == 2)
    await youth.send_text(SECRETS[2])
    await counsellor.wait_until(lambda: len(counsellor.messages(cid)) == 3)
    return youth, counsellor, cid


async def _redis_dump(harness: Harness) -> bytes:
    """Every key and value under this test's prefix, of every type, as bytes."""
    r = await harness.redis()
    out = []
    async for key in r.scan_iter(match=f"{harness.prefix}*"):
        out.append(key)
        kind = (await r.type(key)).decode()
        if kind == "string":
            out.append(await r.get(key))
        elif kind == "hash":
            for k, v in (await r.hgetall(key)).items():
                out += [k, v]
        elif kind == "list":
            out += await r.lrange(key, 0, -1)
        elif kind == "set":
            out += list(await r.smembers(key))
        elif kind == "zset":
            out += [m for m, _ in await r.zrange(key, 0, -1, withscores=True)]
    await r.aclose()
    return b"\n".join(out)


async def test_a_whole_conversation_leaves_no_plaintext_in_redis_or_its_files(
    harness: Harness, server: ServerProcess, redis_data_dir: Path | None
) -> None:
    await harness.init_keys()
    youth, counsellor, cid = await _chat(harness)
    # Both sides read everything, verified, with who said it.
    for reader in (await youth.read(), await counsellor.read(cid)):  # type: ignore[attr-defined]
        assert [(m.seq, m.sender_role, m.text, m.error) for m in reader] == [
            (1, "youth", SECRETS[0], None), (2, "counsellor", SECRETS[1], None),
            (3, "youth", SECRETS[2], None)]
    assert [m.sender for m in await youth.read()] == ["you", "anouk", "you"]

    dump = await _redis_dump(harness)
    bodies = [m["body"] for m in youth.messages]
    assert all(body in dump for body in bodies)  # the ciphertext is there ...
    for secret in SECRETS:  # ... and no plaintext, in any encoding a client might use
        for form in (secret.encode(), secret.encode("utf-16-le"), json.dumps(secret).encode()):
            assert form not in dump
    if redis_data_dir is not None:
        aof = redis_data_dir / "appendonly.aof"
        deadline = time.monotonic() + 5
        while bodies[-1] not in aof.read_bytes() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)  # appendfsync everysec: the file lags up to a second
        data = aof.read_bytes()
        assert bodies[-1] in data
        for secret in SECRETS:
            assert secret.encode() not in data


async def test_only_granted_staff_can_read(harness: Harness, server: ServerProcess) -> None:
    await harness.init_keys()
    _youth, counsellor, cid = await _chat(harness)
    # A supervisor whose device was never granted takes the conversation over: the
    # server lets them in, but the bodies stay closed.
    ungranted = await harness.secure_staff("boris", Role.SUPERVISOR, grant=False)
    await ungranted.reassign(cid, "boris")  # a supervisor may reassign to themselves
    for envelope in (await ungranted.history(cid))["messages"]:
        ungranted.transcript(cid).add(envelope)
    read = await ungranted.read(cid)
    assert [(m.seq, m.text, m.error) for m in read] == [
        (seq, None, "unknown_sender_or_epoch") for seq in (1, 2, 3)]
    with pytest.raises(ClientError) as no_key:
        await ungranted.send_text(cid, "hello?")
    assert no_key.value.code == "no_keys"
    # The counsellor who was granted still reads it all.
    assert [m.text for m in await counsellor.read(cid)] == SECRETS  # type: ignore[attr-defined]


async def test_a_team_key_not_signed_by_the_pinned_key_is_refused(
    harness: Harness, server: ServerProcess
) -> None:
    await harness.init_keys()
    other_org = SigningKeyPair.generate()
    stranger = YouthClient(server.url, pinned_fingerprint=other_org.public.fingerprint)
    harness.clients.append(stranger)
    await stranger.connect()
    with pytest.raises(CryptoError) as refused:
        await stranger.open()
    assert refused.value.code == "untrusted_signer"
    assert stranger.conversation_id is None  # nothing was opened
    assert await (await harness.staff("carla")).queue() == []


@pytest.mark.parametrize("attack", ["attacker_signed", "key_swapped_under_old_signature"])
async def test_a_swapped_team_key_on_the_server_is_detected(
    harness: Harness, server: ServerProcess, attack: str
) -> None:
    fp = await harness.init_keys()
    r = await harness.redis()
    period = (await r.get(f"{harness.prefix}keys:team:current")).decode()
    original = key_statement_from_json(
        (await r.hget(f"{harness.prefix}keys:team", period)).decode())
    evil_team = EncryptionKeyPair.generate()
    st = original.statement
    forged = KeyStatement(st.kind, st.subject, evil_team.public, st.not_before, st.not_after)
    if attack == "attacker_signed":
        swapped = sign_key_statement(forged, SigningKeyPair.generate())
        code = "untrusted_signer"
    else:
        swapped = type(original)(forged, original.signer, original.signature)
        code = "bad_signature"
    await r.hset(f"{harness.prefix}keys:team", period, key_statement_to_json(swapped))
    await r.aclose()
    youth = YouthClient(server.url, pinned_fingerprint=fp)
    harness.clients.append(youth)
    await youth.connect()
    with pytest.raises(CryptoError) as refused:
        await youth.open()
    assert refused.value.code == code
    assert StatementKind.TEAM_KEY == st.kind


async def test_readers_detect_what_a_server_could_do_to_stored_bodies(
    harness: Harness, server: ServerProcess
) -> None:
    await harness.init_keys()
    _youth, _counsellor, cid = await _chat(harness)
    other = await harness.secure_youth()
    await other.send_text("a message in another conversation")
    r = await harness.redis()
    msgs = f"{harness.prefix}conv:{cid}:msgs"
    stored = await r.lrange(msgs, 0, -1)
    foreign = (await r.lrange(f"{harness.prefix}conv:{other.conversation_id}:msgs", 0, 0))[0]

    # 1. a flipped bit in the first stored body (inside the ciphertext)
    role, at, body = stored[0].split(b"|", 2)
    flipped = bytearray(body)
    flipped[len(body) // 2] ^= 0x01
    await r.lset(msgs, 0, b"|".join([role, at, bytes(flipped)]))
    # 2. the same youth body replayed as a new message
    await r.rpush(msgs, stored[2])
    # 3. a body moved from another conversation
    await r.rpush(msgs, foreign)
    await r.hset(f"{harness.prefix}conv:{cid}", "last_seq", 5)
    await r.aclose()

    counsellor2 = await harness.secure_staff("anouk", create=False)
    page = await counsellor2.history(cid)
    for envelope in page["messages"]:
        counsellor2.transcript(cid).add(envelope)
    errors = {m.seq: m.error for m in await counsellor2.read(cid)}
    assert errors == {1: "bad_signature", 2: None, 3: None, 4: "replay",
                      5: "wrong_conversation"}


async def test_readers_detect_reordered_bodies(harness: Harness, server: ServerProcess) -> None:
    await harness.init_keys()
    counsellor = await harness.secure_staff("dirk")
    youth = await harness.secure_youth()
    cid = youth.conversation_id
    assert cid
    await counsellor.accept(cid)
    for text in ("first", "second", "third"):
        await youth.send_text(text)
    r = await harness.redis()
    msgs = f"{harness.prefix}conv:{cid}:msgs"
    one, two, three = await r.lrange(msgs, 0, -1)
    await r.lset(msgs, 0, two)  # the server changes the seq of two bodies
    await r.lset(msgs, 1, one)
    await r.aclose()
    assert three
    fresh = await harness.secure_staff("dirk", create=False)  # reads from the server anew
    page = await fresh.history(cid)
    for envelope in page["messages"]:
        fresh.transcript(cid).add(envelope)
    read = await fresh.read(cid)
    assert [(m.text, m.error) for m in read] == [("second", None), (None, "reordered"),
                                                 ("third", None)]


async def test_rotation_keeps_old_and_new_conversations_readable(
    harness: Harness, server: ServerProcess
) -> None:
    await harness.init_keys()
    counsellor = await harness.secure_staff("emil")
    before = await harness.secure_youth()
    assert before.conversation_id
    await before.send_text("before the rotation")
    store = harness.store()
    try:
        _period, granted, _refused = await harness.key_admin(store).rotate()
    finally:
        await store.close()
    assert granted == ["emil"]
    await counsellor.load_grants()
    after = await harness.secure_youth()
    assert after.conversation_id
    await after.send_text("after the rotation")
    keys = await after.call("conversation_keys")
    assert keys["wraps"][0]["recipient"] != (await before.call("conversation_keys"))[
        "wraps"][0]["recipient"]  # the two conversations use different team keys
    for youth, text in ((before, "before the rotation"), (after, "after the rotation")):
        assert youth.conversation_id
        await counsellor.accept(youth.conversation_id)
        assert [m.text for m in await counsellor.read(youth.conversation_id)] == [text]


async def test_transcript_export_needs_a_granted_key(
    harness: Harness, server: ServerProcess
) -> None:
    await harness.init_keys()
    _youth, counsellor, cid = await _chat(harness)
    granted_key = harness.tmp / "anouk.pem"
    write_unencrypted_key_file(granted_key, counsellor.keyring.encryption)  # type: ignore[attr-defined]
    export = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "helpline", "transcript", "export", cid, "--key",
         str(granted_key), "--format", "json"],
        env=server.env, capture_output=True, text=True, timeout=60)
    assert export.returncode == 0, export.stderr
    assert [m["text"] for m in json.loads(export.stdout)] == SECRETS

    stranger = await harness.secure_staff("fay", grant=False)
    stranger_key = harness.tmp / "fay.pem"
    write_unencrypted_key_file(stranger_key, stranger.keyring.encryption)  # type: ignore[union-attr]
    refused = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "helpline", "transcript", "export", cid, "--key",
         str(stranger_key)], env=server.env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    assert "forbidden" in refused.stderr
    assert not any(secret in refused.stdout for secret in SECRETS)
