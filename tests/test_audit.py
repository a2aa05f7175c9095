"""The audit log: every staff action and read, hash-chained, no content, and anchored
outside Redis by signed checkpoints that `helpline audit verify` checks."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from helpline.client import StaffClient, login
from helpline.crypto.keyring import StaffKeyring
from helpline.crypto.keys import SigningKeyPair
from helpline.domain.audit import (
    AuditEntry,
    CheckpointInvalid,
    check_checkpoints,
    checkpoint_message,
    parse_checkpoint,
    sign_checkpoint,
    verify_chain,
)
from helpline.domain.roles import Role
from helpline.services.audit import AuditKeyInvalid, load_audit_key
from tests.conftest import PASSWORD, Harness, ServerProcess


def _chain(n: int) -> list[AuditEntry]:
    entries, prev = [], "0" * 64
    for i in range(n):
        entry = AuditEntry(i=i, at=1000 + i, actor=f"staff{i}", role="counsellor",
                           action="accept", conversation_id="C" * 22, prev=prev).sealed()
        entries.append(entry)
        prev = entry.hash
    return entries


def test_an_intact_chain_verifies() -> None:
    assert verify_chain(_chain(5)).ok


@pytest.mark.parametrize(("tamper", "broken_at"), [
    ("edit", 2), ("delete", 2), ("reorder", 1), ("insert", 3), ("edit_last", 4)])
def test_any_change_names_the_first_broken_entry(tamper: str, broken_at: int) -> None:
    entries = _chain(5)
    if tamper == "edit":
        entries[2] = AuditEntry(**{**entries[2].body(), "actor": "someone else",
                                   "hash": entries[2].hash})
    elif tamper == "delete":
        del entries[2]
    elif tamper == "reorder":
        entries[1], entries[2] = entries[2], entries[1]
    elif tamper == "insert":
        entries.insert(3, AuditEntry(**{**entries[2].body(), "i": 3}).sealed())
    elif tamper == "edit_last":
        entries[4] = AuditEntry(**{**entries[4].body(), "details": {"x": 1},
                                   "hash": entries[4].hash})
    check = verify_chain(entries)
    assert not check.ok and check.first_broken == broken_at, check


async def _run(server: ServerProcess, *args: str, input_: str | None = None
               ) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "helpline", *args], env=server.env,
        capture_output=True, text=True, timeout=60, input=input_)


async def _log(harness: Harness) -> list[dict[str, Any]]:
    r = await harness.redis()
    raw = await r.lrange(f"{harness.prefix}audit", 0, -1)
    await r.aclose()
    return [json.loads(x) for x in raw]


def _data(server: ServerProcess) -> Path:
    return Path(server.env["HELPLINE_DATA_DIR"])


async def _rewrite(harness: Harness, change: Any) -> None:
    """What an attacker with Redis write access does: rewrite the chain consistently,
    recomputing every hash and the head, so the chain alone verifies."""
    r = await harness.redis()
    key = f"{harness.prefix}audit"
    raw: list[bytes] = await r.lrange(key, 0, -1)
    old = [AuditEntry.from_json(x.decode()) for x in raw]
    new: list[AuditEntry] = []
    prev = "0" * 64
    for entry in change(old):
        sealed = AuditEntry(**{**entry.body(), "i": len(new), "prev": prev}).sealed()
        new.append(sealed)
        prev = sealed.hash
    async with r.pipeline(transaction=True) as pipe:
        pipe.delete(key)
        for entry in new:
            pipe.rpush(key, entry.to_json())
        pipe.set(f"{key}:head", f"{len(new)}:{prev}")
        await pipe.execute()
    await r.aclose()
    assert verify_chain(new).ok  # the forgery is self-consistent


# -- checkpoints: pure rules ----------------------------------------------------------


def test_a_checkpoint_signs_the_documented_bytes() -> None:
    head = "ab" * 32
    message = checkpoint_message(3, head, 1_800_000_000)
    label = b"helpline/v2/audit-checkpoint"
    assert message == (len(label).to_bytes(4, "big") + label + (8).to_bytes(4, "big")
                       + (3).to_bytes(8, "big") + (32).to_bytes(4, "big") + bytes.fromhex(head)
                       + (8).to_bytes(4, "big") + (1_800_000_000).to_bytes(8, "big"))


@pytest.mark.parametrize("bad", [
    "not json", "[]", '{"v": 2}', "wrong_version", "bool_count", "zero_count",
    "extra_field", "other_key", "bad_signature", "short_head"])
def test_a_bad_checkpoint_line_is_refused(bad: str) -> None:
    key = SigningKeyPair.generate()
    good = json.loads(sign_checkpoint(key, 2, "cd" * 32, 1_800_000_000).to_json())
    lines = {
        "wrong_version": {**good, "v": 1},
        "bool_count": {**good, "count": True},
        "zero_count": {**good, "count": 0},
        "extra_field": {**good, "ip": "x"},
        "other_key": json.loads(sign_checkpoint(SigningKeyPair.generate(), 2, "cd" * 32,
                                                1_800_000_000).to_json()),
        "bad_signature": {**good, "count": 3},
        "short_head": {**good, "head": "cd" * 31},
    }
    text = json.dumps(lines[bad]) if bad in lines else bad
    with pytest.raises(CheckpointInvalid) as refused:
        parse_checkpoint(text, key.public)
    assert refused.value.code == "checkpoint_invalid"
    assert parse_checkpoint(json.dumps(good), key.public).count == 2


def test_checkpoints_catch_a_consistent_rewrite_and_a_truncation() -> None:
    key = SigningKeyPair.generate()
    entries = _chain(5)
    lines = [sign_checkpoint(key, 3, entries[2].hash, 1000).to_json(),
             sign_checkpoint(key, 5, entries[4].hash, 2000).to_json()]
    ok = check_checkpoints(entries, lines, key.public)
    assert ok.ok and ok.checkpoints == 2 and ok.anchored == 5
    forged, prev = [], "0" * 64
    for e in entries:
        actor = "nobody" if e.i == 3 else e.actor
        sealed = AuditEntry(**{**e.body(), "actor": actor, "prev": prev}).sealed()
        forged.append(sealed)
        prev = sealed.hash
    assert verify_chain(forged).ok
    check = check_checkpoints(forged, lines, key.public)
    assert (check.ok, check.code, check.checkpoint, check.first_broken) == (
        False, "checkpoint_mismatch", 2, 4)
    cut = check_checkpoints(entries[:4], lines, key.public)
    assert (cut.ok, cut.code, cut.checkpoint) == (False, "chain_truncated", 2)


def test_the_audit_key_file_is_made_once_and_read_strictly(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit-signing.key"
    key = load_audit_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_audit_key(path).public == key.public  # never replaced once made
    path.write_bytes(b"short")
    with pytest.raises(AuditKeyInvalid) as refused:
        load_audit_key(path)
    assert refused.value.code == "audit_key_invalid"


# -- through the real server and the real CLI ------------------------------------------


async def test_staff_actions_are_logged_and_the_cli_catches_tampering(
    harness: Harness, server: ServerProcess
) -> None:
    supervisor = await harness.staff("sofie", Role.SUPERVISOR)
    first = await harness.staff("tom")
    await harness.add_staff("ulla")
    youth = await harness.youth()
    cid = youth.conversation_id
    assert cid
    await youth.send(b"secret words")
    await first.accept(cid)
    await supervisor.reassign(cid, "ulla")
    second = await harness.staff("ulla", create=False)
    await second.wrapup(cid, "labour", "18_23", "labour_inspectorate")

    verify = await _run(server, "audit", "verify")
    assert verify.returncode == 0, verify.stderr
    shown = [json.loads(line) for line in (await _run(server, "audit", "show")).stdout.split()]
    about = [e for e in shown
             if e["conversation_id"] == cid and not e["action"].startswith("read_")]
    assert [(e["actor"], e["action"]) for e in about] == [
        ("tom", "accept"), ("sofie", "reassign"), ("ulla", "wrapup")]
    assert about[1]["details"] == {"from": "tom", "to": "ulla"}
    # The wrap-up is logged as having happened; its form, age band and referral go to
    # the statistics counters only (finding 6).
    assert about[2]["details"] == {}
    assert "labour" not in json.dumps(shown) and "18_23" not in json.dumps(shown)
    assert "secret words" not in json.dumps(shown)

    # An insider edits one entry in Redis: the CLI names it.
    position = shown.index(about[1])
    r = await harness.redis()
    forged = {**about[1], "actor": "nobody"}
    await r.lset(f"{harness.prefix}audit", position, json.dumps(forged))
    await r.aclose()
    broken = await _run(server, "audit", "verify")
    assert broken.returncode == 1
    assert f"BROKEN at entry {position} (chain_broken)" in broken.stderr


async def test_deleting_the_newest_entries_is_caught(
    harness: Harness, server: ServerProcess
) -> None:
    counsellor = await harness.staff("vic")
    for _ in range(2):
        youth = await harness.youth()
        assert youth.conversation_id
        await counsellor.accept(youth.conversation_id)
    count = len(await _log(harness))
    r = await harness.redis()
    await r.rpop(f"{harness.prefix}audit")
    await r.aclose()
    broken = await _run(server, "audit", "verify")
    assert broken.returncode == 1 and f"BROKEN at entry {count - 1}" in broken.stderr


async def test_a_chain_rewritten_whole_in_redis_fails_verify(
    harness: Harness, server: ServerProcess
) -> None:
    """Finding 6: the chain and its head both live in Redis. A consistent rewrite
    passed `audit verify` before; a signed checkpoint outside Redis now catches it."""
    counsellor = await harness.staff("wim")
    youth = await harness.youth()
    assert youth.conversation_id
    await counsellor.accept(youth.conversation_id)
    made = await _run(server, "audit", "checkpoint")
    assert made.returncode == 0 and "checkpoint:" in made.stdout, made.stderr
    again = await _run(server, "audit", "checkpoint")
    assert "no new entries" in again.stdout  # only when the head moved

    untouched = await _run(server, "audit", "verify")
    assert untouched.returncode == 0, untouched.stderr
    assert "1 checkpoint(s) verified; 0 entries after the last one" in untouched.stdout
    # The file is outside Redis, mode 0600, next to the key that signs it.
    key_file = _data(server) / "audit-signing.key"
    points = _data(server) / "audit-checkpoints.jsonl"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_bytes()) == 32
    assert len(points.read_text().splitlines()) == 1

    # The attacker blames someone else for the accept, and rewrites every hash.
    def blame(entries: list[AuditEntry]) -> list[AuditEntry]:
        return [AuditEntry(**{**e.body(), "actor": "nobody"}) if e.action == "accept" else e
                for e in entries]
    await _rewrite(harness, blame)
    broken = await _run(server, "audit", "verify")
    assert broken.returncode == 1
    assert "(checkpoint_mismatch): checkpoint 1" in broken.stderr
    assert "rewritten" in broken.stderr
    # ... and no new checkpoint is signed over the forged chain.
    refused = await _run(server, "audit", "checkpoint")
    assert refused.returncode == 1 and "audit_tampered" in refused.stderr
    assert len(points.read_text().splitlines()) == 1


async def test_a_truncated_chain_fails_verify(harness: Harness, server: ServerProcess) -> None:
    counsellor = await harness.staff("xia")
    youth = await harness.youth()
    assert youth.conversation_id
    await counsellor.accept(youth.conversation_id)
    assert (await _run(server, "audit", "checkpoint")).returncode == 0
    await _rewrite(harness, lambda entries: entries[:-1])
    broken = await _run(server, "audit", "verify")
    assert broken.returncode == 1
    assert "(chain_truncated): checkpoint 1" in broken.stderr


async def test_an_off_host_copy_is_checked_with_the_public_key_alone(
    harness: Harness, server: ServerProcess, tmp_path: Path
) -> None:
    await harness.staff("yan")
    assert (await _run(server, "audit", "checkpoint")).returncode == 0
    public = (await _run(server, "audit", "public-key")).stdout.strip()
    copy = tmp_path / "copy.jsonl"
    copy.write_text((_data(server) / "audit-checkpoints.jsonl").read_text())
    # As on another machine: no key file there, only the pinned public key.
    elsewhere = {**server.env, "HELPLINE_AUDIT_KEY_FILE": str(tmp_path / "none.key")}
    ok = await asyncio.to_thread(subprocess.run, [
        sys.executable, "-m", "helpline", "audit", "verify", "--checkpoints", str(copy),
        "--public-key", public], env=elsewhere, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    other = SigningKeyPair.generate().public.raw.hex()
    wrong = await asyncio.to_thread(subprocess.run, [
        sys.executable, "-m", "helpline", "audit", "verify", "--checkpoints", str(copy),
        "--public-key", other], env=elsewhere, capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 1 and "(checkpoint_invalid)" in wrong.stderr
    unpinned = await asyncio.to_thread(subprocess.run, [
        sys.executable, "-m", "helpline", "audit", "verify", "--checkpoints", str(copy)],
        env=elsewhere, capture_output=True, text=True, timeout=60)
    assert unpinned.returncode == 2 and "--public-key" in unpinned.stderr


async def test_the_checkpoint_job_signs_when_the_head_moved(harness: Harness) -> None:
    srv = harness.server(HELPLINE_JOB_INTERVAL_SECONDS="0.3")
    await harness.add_staff("zora", Role.ADMIN)
    points = _data(srv) / "audit-checkpoints.jsonl"
    await _wait(lambda: points.exists() and len(points.read_text().splitlines()) >= 1)
    token = (await login(srv.url, "zora", PASSWORD))["token"]
    await _wait(lambda: len(points.read_text().splitlines()) >= 2)
    await asyncio.sleep(1)  # several slots pass with no new entry: no new checkpoint
    lines = points.read_text().splitlines()
    assert len(lines) == 2
    async with aiohttp.ClientSession() as http, http.get(
            f"{srv.url}/api/audit", headers={"Authorization": f"Bearer {token}"}) as resp:
        body = await resp.json()
    # The Redis copies are shown to the admin, with the key's fingerprint.
    assert [json.dumps(c, sort_keys=True, separators=(",", ":"))
            for c in body["checkpoints"]] == lines
    assert body["audit_key"] == json.loads(lines[0])["key"]
    verify = await _run(srv, "audit", "verify")  # (the read above is checkpointed too)
    assert verify.returncode == 0 and " checkpoint(s) verified" in verify.stdout


async def _wait(condition: Any, timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_only_admins_read_the_audit_log_over_http(
    harness: Harness, server: ServerProcess
) -> None:
    await harness.add_staff("wendy", Role.ADMIN)
    counsellor = await harness.staff("xander")
    youth = await harness.youth()
    assert youth.conversation_id
    await counsellor.accept(youth.conversation_id)
    admin_token = (await login(server.url, "wendy", PASSWORD))["token"]
    assert counsellor.token
    auth = {"Authorization": f"Bearer {admin_token}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/api/audit", headers=auth) as resp:
            assert resp.status == 200
            entries = (await resp.json())["entries"]
            assert ("xander", "accept") in [(e["actor"], e["action"]) for e in entries]
        async with http.get(f"{server.url}/api/audit/verify", headers=auth) as resp:
            answer = await resp.json()
            assert answer["ok"] is True and answer["code"] is None
            assert answer["entries"] == len(await _log(harness))
        async with http.get(f"{server.url}/api/audit",
                            headers={"Authorization": f"Bearer {counsellor.token}"}) as resp:
            assert resp.status == 403
            assert (await resp.json())["error"]["code"] == "forbidden"
        async with http.get(f"{server.url}/api/audit") as resp:
            assert resp.status == 401


# -- every key and account action and every staff read is logged (finding 6) -----------


async def test_account_actions_are_logged_without_address_or_agent(
    harness: Harness, server: ServerProcess
) -> None:
    add = await _run(server, "users", "add", "anna", "--role", "counsellor",
                     input_="a long enough password\n")
    assert add.returncode == 0, add.stderr
    session = await login(server.url, "anna", "a long enough password")
    async with aiohttp.ClientSession() as http, http.post(
            f"{server.url}/api/logout",
            headers={"Authorization": f"Bearer {session['token']}"}) as resp:
        assert resp.status == 204
    assert (await _run(server, "users", "disable", "anna")).returncode == 0
    log = await _log(harness)
    assert [(e["actor"], e["action"], e["details"]) for e in log] == [
        ("cli", "account_added", {"account": "anna", "role": "counsellor"}),
        ("anna", "login", {"result": "ok"}),
        ("anna", "logout", {}),
        ("cli", "account_disabled", {"account": "anna"}),
    ]
    text = json.dumps(log)
    assert "127.0.0.1" not in text and "Python" not in text and "aiohttp" not in text
    assert "a long enough password" not in text


async def test_wrong_passwords_are_logged_once_at_the_lock_out(
    harness: Harness, server: ServerProcess
) -> None:
    await harness.add_staff("bart")
    for _ in range(7):
        with pytest.raises(Exception):  # noqa: B017 - unauthorized, then rate_limited
            await login(server.url, "bart", "not the password")
    for _ in range(7):  # a name without an account never writes to the log
        with pytest.raises(Exception):  # noqa: B017
            await login(server.url, "no-such-name", "not the password")
    logins = [e for e in await _log(harness) if e["action"] == "login"]
    assert [(e["actor"], e["details"]) for e in logins] == [("bart", {"result": "locked"})]


async def test_device_registration_and_staff_reads_are_logged_once_per_window(
    harness: Harness, server: ServerProcess
) -> None:
    await harness.add_staff("carla")
    ring = StaffKeyring.generate("carla", "00" * 32)
    counsellor = await StaffClient.signed_in(server.url, "carla", PASSWORD, keyring=ring)
    harness.clients.append(counsellor)
    await counsellor.register_device()
    youth = await harness.youth()
    cid = youth.conversation_id
    assert cid
    await youth.send(b"hello")
    await counsellor.accept(cid)
    for _ in range(3):  # paging and re-syncing must not flood the log
        await counsellor.history(cid)
        await counsellor.call("conversation_keys", {"conversation_id": cid})
    await harness.add_staff("dirk", Role.ADMIN)
    token = (await login(server.url, "dirk", PASSWORD))["token"]
    async with aiohttp.ClientSession() as http:
        for path in ("/api/stats", "/api/stats", "/api/audit", "/api/audit/verify"):
            async with http.get(f"{server.url}{path}",
                                headers={"Authorization": f"Bearer {token}"}) as resp:
                assert resp.status == 200
    log = await _log(harness)
    seen = [(e["actor"], e["action"], e["conversation_id"]) for e in log
            if e["action"].startswith("read_") or e["action"] == "device_registered"]
    assert seen == [("carla", "device_registered", None),
                    ("carla", "read_history", cid), ("carla", "read_keys", cid),
                    ("dirk", "read_stats", None), ("dirk", "read_audit", None)]
    device = next(e for e in log if e["action"] == "device_registered")
    assert device["details"] == {
        "encryption_fingerprint": ring.encryption.public.fingerprint,
        "signing_fingerprint": ring.signing.public.fingerprint}
    # Once the window is over (its mark expires), the next read is logged again.
    r = await harness.redis()
    await r.delete(f"{harness.prefix}audit:seen:read_history:carla:{cid}")
    await r.aclose()
    await counsellor.history(cid)
    assert sum(e["action"] == "read_history" for e in await _log(harness)) == 2
