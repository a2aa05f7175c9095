"""Who may connect: staff tokens, origins, login throttling, disabled accounts."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import aiohttp
import pytest
import socketio

from helpline.client import ClientError, StaffClient, YouthClient, login
from helpline.config import ConfigError, Settings, load_settings
from helpline.domain.roles import Role
from helpline.services import passwords
from tests.conftest import ALLOWED_ORIGIN, PASSWORD, Harness, ServerProcess


async def _refused(client: StaffClient | YouthClient, **connect: object) -> str:
    with pytest.raises(socketio.exceptions.ConnectionError) as refused:
        if isinstance(client, StaffClient):
            await client.connect(**connect)  # type: ignore[arg-type]
        else:
            await client.connect()
    return str(refused.value)


async def test_staff_socket_without_a_valid_token_is_refused(
    harness: Harness, server: ServerProcess
) -> None:
    for auth in (None, "not-a-token-at-all-but-long-enough", "x" * 43):
        client = StaffClient(server.url, reconnection=False)
        client.token = auth
        message = await _refused(client)
        assert "sign in" in message.lower() or "namespace" in message.lower()
        assert not client.connected


async def test_login_gives_a_token_that_opens_the_staff_socket(
    harness: Harness, server: ServerProcess
) -> None:
    await harness.add_staff("hana", Role.SUPERVISOR)
    session = await login(server.url, "hana", PASSWORD)
    assert session["role"] == "supervisor" and len(session["token"]) >= 43
    client = StaffClient(server.url)
    harness.clients.append(client)
    await client.connect(session["token"])
    assert await client.whoami() == {"username": "hana", "role": "supervisor", "languages": [],
                                     "max_conversations": 3}


async def test_logout_revokes_the_token(harness: Harness, server: ServerProcess) -> None:
    await harness.add_staff("ivo")
    session = await login(server.url, "ivo", PASSWORD)
    client = StaffClient(server.url, reconnection=False)
    harness.clients.append(client)
    await client.connect(session["token"])
    async with aiohttp.ClientSession() as http, http.post(
        f"{server.url}/api/logout", headers={"Authorization": f"Bearer {session['token']}"}
    ) as resp:
        assert resp.status == 204
    # The open socket is dropped at once (no more pushes), and a new one is refused.
    await client.wait_until(lambda: not client.connected, timeout=2)
    await _refused(StaffClient(server.url, reconnection=False), token=session["token"])


async def test_wrong_passwords_are_rate_limited_per_account(
    harness: Harness, server: ServerProcess
) -> None:
    await harness.add_staff("jan")
    await harness.add_staff("kim")
    codes = []
    for _ in range(6):
        with pytest.raises(ClientError) as wrong:
            await login(server.url, "jan", "not the password")
        codes.append(wrong.value.code)
    assert codes == ["unauthorized"] * 5 + ["rate_limited"]
    # Even the right password is refused while the account is locked ...
    with pytest.raises(ClientError) as locked:
        await login(server.url, "jan", PASSWORD)
    assert locked.value.code == "rate_limited"
    # ... but another account is not affected.
    assert (await login(server.url, "kim", PASSWORD))["username"] == "kim"


async def test_parallel_guesses_do_not_slip_past_the_limit(
    harness: Harness, server: ServerProcess
) -> None:
    await harness.add_staff("jules")

    async def guess() -> str:
        try:
            await login(server.url, "jules", "a wrong password")
        except ClientError as exc:
            return exc.code
        return "ok"

    codes = await asyncio.gather(*(guess() for _ in range(20)))
    assert sorted(codes) == ["rate_limited"] * 15 + ["unauthorized"] * 5


async def test_unknown_user_and_wrong_password_look_the_same(
    harness: Harness, server: ServerProcess
) -> None:
    await harness.add_staff("lea")
    errors = []
    for name in ("lea", "nobody-here"):
        with pytest.raises(ClientError) as wrong:
            await login(server.url, name, "wrong password!")
        errors.append((wrong.value.code, wrong.value.message))
    assert errors[0] == errors[1] == ("unauthorized", "Wrong username or password.")


@pytest.mark.parametrize("side", ["youth", "staff"])
async def test_a_disallowed_origin_is_refused(
    harness: Harness, server: ServerProcess, side: str
) -> None:
    await harness.add_staff("max")
    token = (await login(server.url, "max", PASSWORD))["token"]
    bad: StaffClient | YouthClient
    if side == "youth":
        bad = YouthClient(server.url, origin="https://evil.example", reconnection=False)
        good: StaffClient | YouthClient = YouthClient(server.url, origin=ALLOWED_ORIGIN)
    else:
        bad = StaffClient(server.url, origin="https://evil.example", reconnection=False)
        good = StaffClient(server.url, origin=ALLOWED_ORIGIN)
        bad.token = good.token = token
    await _refused(bad)
    harness.clients.append(good)
    await good.connect()  # type: ignore[call-arg]
    assert good.connected


async def test_disabling_an_account_drops_its_live_connections(
    harness: Harness, server: ServerProcess
) -> None:
    counsellor = await harness.staff("nora")
    second_tab = await harness.staff("nora", create=False)
    assert counsellor.connected and second_tab.connected
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "helpline", "users", "disable", "nora"],
        env=server.env, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "disabled nora" in result.stdout
    await counsellor.wait_until(lambda: not counsellor.connected, timeout=5)
    await second_tab.wait_until(lambda: not second_tab.connected, timeout=5)
    with pytest.raises(ClientError) as refused:
        await login(server.url, "nora", PASSWORD)
    assert refused.value.code == "unauthorized"
    assert counsellor.token
    await _refused(StaffClient(server.url, reconnection=False), token=counsellor.token)


async def test_users_cli_adds_and_lists_accounts(server: ServerProcess) -> None:
    add = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "helpline", "users", "add", "olga", "--role", "police"],
        input="a long enough password\n", env=server.env, capture_output=True, text=True,
        timeout=30,
    )
    assert add.returncode == 0, add.stderr
    again = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "helpline", "users", "add", "olga", "--role", "police"],
        input="a long enough password\n", env=server.env, capture_output=True, text=True,
        timeout=30,
    )
    assert again.returncode == 1 and "conflict" in again.stderr
    listed = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "helpline", "users", "list"],
        env=server.env, capture_output=True, text=True, timeout=30,
    )
    assert "olga\tpolice\tactive" in listed.stdout
    assert (await login(server.url, "olga", "a long enough password"))["role"] == "police"


# -- password cost (issue 10, finding 7) -------------------------------------------------


def test_the_default_scrypt_cost_is_owasps_minimum() -> None:
    assert load_settings({}).scrypt_log2_n == 17
    assert Settings().scrypt_log2_n == 17
    for bad in ("9", "21"):
        with pytest.raises(ConfigError, match="HELPLINE_SCRYPT_LOG2_N"):
            load_settings({"HELPLINE_SCRYPT_LOG2_N": bad})


def test_a_stored_hash_cannot_ask_for_a_huge_cost() -> None:
    weak = passwords.hash_password_sync(PASSWORD, 10)
    huge = weak.replace("scrypt$10$", "scrypt$30$", 1)
    assert passwords.verify_password_sync(PASSWORD, weak)
    assert not passwords.verify_password_sync(PASSWORD, huge)
    assert passwords.needs_rehash(weak, 17) and not passwords.needs_rehash(weak, 10)


async def _stored(r: Any, key: str) -> str:
    raw = await r.hget(key, "password_hash")
    assert isinstance(raw, bytes)
    return raw.decode()


async def test_an_old_cost_hash_is_upgraded_at_the_next_login(harness: Harness) -> None:
    # The account was hashed at the old, lower cost (2^10 here, as the harness does);
    # the server now runs at a higher one.
    await harness.add_staff("pia")
    srv = harness.server(HELPLINE_SCRYPT_LOG2_N="12")
    r = await harness.redis()
    key = f"{harness.prefix}staff:pia"
    before = await _stored(r, key)
    assert before.startswith("scrypt$10$8$1$")
    with pytest.raises(ClientError):  # a wrong password upgrades nothing
        await login(srv.url, "pia", "not the password")
    assert await _stored(r, key) == before
    assert (await login(srv.url, "pia", PASSWORD))["username"] == "pia"
    after = await _stored(r, key)
    assert after.startswith("scrypt$12$8$1$") and after != before
    # It still logs in afterwards, and is not re-hashed again.
    assert (await login(srv.url, "pia", PASSWORD))["username"] == "pia"
    assert await _stored(r, key) == after
    await r.aclose()


async def test_an_upgrade_never_overwrites_a_password_changed_meanwhile(
    harness: Harness,
) -> None:
    await harness.add_staff("quinn")
    store = harness.store()
    try:
        member = await store.get_staff("quinn")
        assert member is not None
        changed = passwords.hash_password_sync("a new password!", 10)
        assert await store.replace_password_hash("quinn", member.password_hash, changed)
        # A login that checked the old hash tries to swap it: refused, atomically.
        assert not await store.replace_password_hash("quinn", member.password_hash, "x")
        current = await store.get_staff("quinn")
        assert current is not None and current.password_hash == changed
    finally:
        await store.close()
