"""Who may connect: staff tokens, origins, login throttling, disabled accounts."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import aiohttp
import pytest
import socketio

from helpline.client import ClientError, StaffClient, YouthClient, login
from helpline.domain.roles import Role
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
    assert await client.whoami() == {"username": "hana", "role": "supervisor", "languages": []}


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
