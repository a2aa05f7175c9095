"""The admin's console routes: staff accounts, devices waiting for approval, key periods.

Real server process, real Redis, the real StaffClient; the key steps of the admin
machine run in-process through the harness's KeyAdmin (as `helpline keys ...` would).
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from helpline.client import ClientError, StaffClient, login
from helpline.crypto.keyring import StaffKeyring
from helpline.domain.roles import Role
from helpline.services.keyadmin import KeyAdmin, KeyPolicy
from tests.conftest import KEY_PASSPHRASE, PASSWORD, Harness, ServerProcess

DAY = 86_400


async def _call(server: ServerProcess, method: str, path: str, token: str | None,
                body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.request(
            method, server.url + path, headers=headers, json=body) as resp:
        return resp.status, await resp.json()


async def _admin(harness: Harness, server: ServerProcess, name: str = "boss") -> str:
    await harness.add_staff(name, Role.ADMIN)
    return str((await login(server.url, name, PASSWORD))["token"])


async def _audit(server: ServerProcess, token: str) -> list[dict[str, Any]]:
    status, body = await _call(server, "GET", "/api/audit?limit=1000", token)
    assert status == 200
    return list(body["entries"])


def _by_name(accounts: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(a for a in accounts if a["username"] == name)


async def test_admin_adds_changes_and_disables_accounts(
    harness: Harness, server: ServerProcess
) -> None:
    token = await _admin(harness, server)
    await harness.add_staff("carla", Role.COUNSELLOR, ("nl",))

    status, body = await _call(server, "GET", "/api/accounts", token)
    assert status == 200
    carla = _by_name(body["accounts"], "carla")
    assert carla == {"username": "carla", "role": "counsellor", "languages": ["nl"],
                     "disabled": False, "created_at": carla["created_at"], "device": None,
                     "granted": False, "pending": False, "statement_expires_at": None,
                     "revoke_command": None}

    # Add: a random initial password, returned once; it signs in and connects to /staff.
    status, body = await _call(server, "POST", "/api/accounts", token,
                               {"username": "newbie", "role": "counsellor",
                                "languages": ["nl", "en"]})
    assert status == 201, body
    password = body["password"]
    assert isinstance(password, str) and len(password) >= 20
    assert body["account"]["username"] == "newbie"
    assert body["account"]["languages"] == ["nl", "en"]
    newbie = await StaffClient.signed_in(server.url, "newbie", password, reconnection=False)
    harness.clients.append(newbie)
    assert newbie.connected
    status, body = await _call(server, "GET", "/api/accounts", token)
    assert "password" not in _by_name(body["accounts"], "newbie")
    assert all("password_hash" not in a for a in body["accounts"])

    # Refusals of the add.
    for bad, code in [({"username": "Bad Name", "role": "counsellor"}, "invalid_payload"),
                      ({"username": "someone", "role": "boss"}, "invalid_payload"),
                      ({"username": "someone", "role": "counsellor", "languages": ["eng"]},
                       "invalid_payload"),
                      ({"username": "someone", "role": "counsellor", "languages": ["nl", "nl"]},
                       "invalid_payload"),
                      ({"username": "someone", "role": "counsellor", "extra": 1},
                       "invalid_payload"),
                      ({"username": "newbie", "role": "police"}, "conflict")]:
        status, body = await _call(server, "POST", "/api/accounts", token, bad)
        assert body["error"]["code"] == code, (bad, body)
        assert status == (409 if code == "conflict" else 400)

    # Languages change: the live socket stays.
    status, body = await _call(server, "PATCH", "/api/accounts/newbie", token,
                               {"languages": ["en", "pl"]})
    assert status == 200, body
    assert body["account"]["languages"] == ["en", "pl"]
    assert body["account"]["role"] == "counsellor"
    assert newbie.connected
    status, body = await _call(server, "PATCH", "/api/accounts/newbie", token, {})
    assert (status, body["error"]["code"]) == (400, "invalid_payload")
    status, body = await _call(server, "PATCH", "/api/accounts/nobody", token,
                               {"languages": []})
    assert (status, body["error"]["code"]) == (404, "not_found")

    # Role change: every session of the account ends, so it signs in with the new role.
    status, body = await _call(server, "PATCH", "/api/accounts/newbie", token,
                               {"role": "supervisor"})
    assert status == 200 and body["account"]["role"] == "supervisor"
    await newbie.wait_until(lambda: not newbie.connected, timeout=5)
    assert newbie.token
    status, body = await _call(server, "GET", "/api/canned", newbie.token)
    assert status == 401
    again = await login(server.url, "newbie", password)
    assert again["role"] == "supervisor"

    # A new password: the old one and every session stop working.
    back = await StaffClient.signed_in(server.url, "newbie", password, reconnection=False)
    harness.clients.append(back)
    status, body = await _call(server, "POST", "/api/accounts/newbie/password", token)
    assert status == 200 and body["account"]["username"] == "newbie"
    new_password = body["password"]
    assert new_password != password and len(new_password) >= 20
    await back.wait_until(lambda: not back.connected, timeout=5)
    with pytest.raises(ClientError) as refused:
        await login(server.url, "newbie", password)
    assert refused.value.code == "unauthorized"
    assert (await login(server.url, "newbie", new_password))["role"] == "supervisor"
    status, body = await _call(server, "POST", "/api/accounts/nobody/password", token)
    assert (status, body["error"]["code"]) == (404, "not_found")

    # Disable: the socket is dropped and the password no longer works.
    carla_client = await StaffClient.signed_in(server.url, "carla", PASSWORD,
                                               reconnection=False)
    harness.clients.append(carla_client)
    status, body = await _call(server, "POST", "/api/accounts/carla/disable", token)
    assert status == 200 and body["account"]["disabled"] is True
    await carla_client.wait_until(lambda: not carla_client.connected, timeout=5)
    with pytest.raises(ClientError) as refused:
        await login(server.url, "carla", PASSWORD)
    assert refused.value.code == "unauthorized"
    status, body = await _call(server, "POST", "/api/accounts/nobody/disable", token)
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = await _call(server, "POST", "/api/accounts/NOT%20A%20NAME/disable", token)
    assert (status, body["error"]["code"]) == (400, "invalid_payload")

    # An admin cannot disable or demote themselves; changing their own languages is fine.
    status, body = await _call(server, "POST", "/api/accounts/boss/disable", token)
    assert (status, body["error"]["code"]) == (409, "own_account")
    status, body = await _call(server, "PATCH", "/api/accounts/boss", token,
                               {"role": "counsellor"})
    assert (status, body["error"]["code"]) == (409, "own_account")
    status, body = await _call(server, "PATCH", "/api/accounts/boss", token,
                               {"role": "admin", "languages": ["nl"]})
    assert status == 200 and body["account"]["role"] == "admin"
    status, _ = await _call(server, "GET", "/api/accounts", token)
    assert status == 200  # still signed in: the role did not change

    entries = [(e["actor"], e["action"], e["details"]) for e in await _audit(server, token)]
    assert ("boss", "account_added", {"account": "newbie", "role": "counsellor"}) in entries
    assert ("boss", "account_changed", {"account": "newbie", "languages": ["en", "pl"]}) \
        in entries
    assert ("boss", "account_changed", {"account": "newbie", "role": "supervisor"}) in entries
    assert ("boss", "account_disabled", {"account": "carla"}) in entries
    assert ("boss", "password_reset", {"account": "newbie"}) in entries
    assert ("boss", "account_changed", {"account": "boss", "role": "admin",
                                        "languages": ["nl"]}) in entries
    assert not any(a == "account_disabled" and d == {"account": "boss"}
                   for _, a, d in entries)


async def test_only_an_admin_reaches_the_routes(harness: Harness, server: ServerProcess
                                                ) -> None:
    await harness.add_staff("carla", Role.COUNSELLOR)
    await harness.add_staff("sam", Role.SUPERVISOR)
    routes = [("GET", "/api/accounts", None), ("GET", "/api/devices/pending", None),
              ("GET", "/api/keys/periods", None),
              ("POST", "/api/accounts", {"username": "x1", "role": "admin"}),
              ("PATCH", "/api/accounts/carla", {"role": "admin"}),
              ("POST", "/api/accounts/sam/disable", None),
              ("POST", "/api/accounts/sam/password", None)]
    for name in ("carla", "sam"):
        token = (await login(server.url, name, PASSWORD))["token"]
        for method, path, body in routes:
            status, answer = await _call(server, method, path, token, body)
            assert (status, answer["error"]["code"]) == (403, "forbidden"), (name, path)
    for method, path, body in routes:
        status, answer = await _call(server, method, path, None, body)
        assert (status, answer["error"]["code"]) == (401, "unauthorized")
        status, answer = await _call(server, method, path, "x" * 43, body)
        assert (status, answer["error"]["code"]) == (401, "unauthorized")
    token = await _admin(harness, server)
    status, answer = await _call(server, "GET", "/api/accounts?all=1", token)
    assert (status, answer["error"]["code"]) == (400, "invalid_payload")
    async with aiohttp.ClientSession() as http, http.post(
            server.url + "/api/accounts", data=b"not json",
            headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "invalid_payload"
    # Nothing was changed by the refused calls.
    status, answer = await _call(server, "GET", "/api/accounts", token)
    assert {a["username"]: (a["role"], a["disabled"]) for a in answer["accounts"]} == {
        "boss": ("admin", False), "carla": ("counsellor", False), "sam": ("supervisor", False)}


async def test_pending_device_commands_then_granted(harness: Harness, server: ServerProcess
                                                   ) -> None:
    await harness.init_keys()
    token = await _admin(harness, server)
    anna = await harness.secure_staff("anna", Role.COUNSELLOR, grant=False)
    olga = await harness.secure_staff("olga", Role.POLICE, grant=False)
    assert anna.keyring is not None and olga.keyring is not None
    a_enc = anna.keyring.encryption.public.fingerprint
    a_sig = anna.keyring.signing.public.fingerprint
    o_enc = olga.keyring.encryption.public.fingerprint
    o_sig = olga.keyring.signing.public.fingerprint

    status, body = await _call(server, "GET", "/api/devices/pending", token)
    assert status == 200
    pending = {d["username"]: d for d in body["devices"]}
    assert pending["anna"] == {
        "username": "anna", "role": "counsellor", "encryption_fingerprint": a_enc,
        "signing_fingerprint": a_sig, "reason": "new",
        "commands": [f"helpline keys approve anna {a_enc} --signing-fingerprint {a_sig}"
                     " --role counsellor", "helpline keys grant anna"]}
    assert pending["olga"]["commands"] == [
        f"helpline keys approve olga {o_enc} --signing-fingerprint {o_sig} --role police",
        "helpline keys grant olga",
        f"helpline keys police-grant olga --fingerprint {o_enc} --signing-fingerprint {o_sig}"]
    status, body = await _call(server, "GET", "/api/accounts", token)
    listed = _by_name(body["accounts"], "anna")
    assert listed["device"] == {"encryption_fingerprint": a_enc, "signing_fingerprint": a_sig}
    assert listed["granted"] is False and listed["pending"] is True
    assert listed["revoke_command"] is None

    # The admin machine runs exactly the lines shown (as console_helpers.approve does).
    store = harness.store()
    try:
        admin = harness.key_admin(store)
        await admin.approve("anna", Role.COUNSELLOR, a_enc, a_sig)
        await admin.grant("anna")
        await admin.approve("olga", Role.POLICE, o_enc, o_sig)
        await admin.grant("olga")
        status, body = await _call(server, "GET", "/api/devices/pending", token)
        # Olga has her staff statement but not yet the police key: still waiting.
        assert [(d["username"], d["reason"]) for d in body["devices"]] == [
            ("olga", "not_granted")]
        await harness.police_admin(store).grant("olga", o_enc, o_sig)
    finally:
        await store.close()
    status, body = await _call(server, "GET", "/api/devices/pending", token)
    assert body["devices"] == []
    status, body = await _call(server, "GET", "/api/accounts", token)
    listed = _by_name(body["accounts"], "anna")
    assert listed["granted"] is True and listed["pending"] is False
    assert listed["revoke_command"] == "helpline keys revoke anna"
    now_ms = int(time.time() * 1000)
    assert 89 * DAY * 1000 < listed["statement_expires_at"] - now_ms <= 90 * DAY * 1000

    # New keys on anna's device: the grants no longer apply, she waits again.
    new_ring = StaffKeyring.generate("anna", harness.fingerprint)
    anna2 = await StaffClient.signed_in(server.url, "anna", PASSWORD, keyring=new_ring)
    harness.clients.append(anna2)
    await anna2.register_device()
    status, body = await _call(server, "GET", "/api/devices/pending", token)
    [waiting] = body["devices"]
    assert waiting["username"] == "anna" and waiting["reason"] == "keys_changed"
    assert waiting["encryption_fingerprint"] == new_ring.encryption.public.fingerprint
    assert waiting["commands"][0].startswith(
        f"helpline keys approve anna {new_ring.encryption.public.fingerprint} ")

    # A revoked device: no approve line (revoked keys are never approved again).
    store = harness.store()
    try:
        await harness.key_admin(store).revoke("olga")
    finally:
        await store.close()
    status, body = await _call(server, "GET", "/api/devices/pending", token)
    olga_row = next(d for d in body["devices"] if d["username"] == "olga")
    assert olga_row["reason"] == "revoked" and olga_row["commands"] == []
    status, body = await _call(server, "GET", "/api/accounts", token)
    assert _by_name(body["accounts"], "olga")["granted"] is False


async def test_role_change_of_a_granted_counsellor_asks_for_revocation(
    harness: Harness, server: ServerProcess
) -> None:
    await harness.init_keys()
    token = await _admin(harness, server)
    await harness.secure_staff("anna", Role.COUNSELLOR)
    await harness.secure_staff("sam", Role.COUNSELLOR)
    await _call(server, "PATCH", "/api/accounts/anna", token, {"role": "police"})
    await _call(server, "PATCH", "/api/accounts/sam", token, {"role": "supervisor"})
    status, body = await _call(server, "GET", "/api/devices/pending", token)
    assert status == 200
    rows = {d["username"]: d for d in body["devices"]}
    assert rows["anna"]["reason"] == "role_changed"
    assert rows["anna"]["commands"] == ["helpline keys revoke anna"]
    assert rows["sam"]["reason"] == "role_changed"
    assert rows["sam"]["commands"][0].endswith("--role supervisor")


async def test_key_periods_and_the_warning(harness: Harness, server: ServerProcess) -> None:
    token = await _admin(harness, server)
    status, body = await _call(server, "GET", "/api/keys/periods", token)
    assert status == 200
    assert body["periods"] == [] and body["warn_days"] == 2
    assert body["warning"]["code"] == "no_team_key"
    assert body["warning"]["command"] == "helpline keys init"

    # `keys init` as if run 13 days ago with 7-day periods: the statement (two periods)
    # ends in a day, within the 2 days of HELPLINE_KEY_WARN_DAYS.
    class Clock:
        offset_ms = -13 * DAY * 1000

        def now_ms(self) -> int:
            return int(time.time() * 1000) + self.offset_ms

    clock = Clock()
    store = harness.store()
    try:
        admin = KeyAdmin(store, harness.tmp / "keys", KEY_PASSPHRASE, clock, KeyPolicy())
        await admin.init()
        status, body = await _call(server, "GET", "/api/keys/periods", token)
        [first] = body["periods"]
        assert first["current"] is True and len(first["fingerprint"]) == 64
        assert first["valid_until"] - first["valid_from"] == 14 * DAY * 1000 + 300_000
        assert body["warning"] == {"code": "period_ending", "period": first["period"],
                                   "ends_at": first["valid_until"],
                                   "command": "helpline keys rotate"}
        # The rotation the warning asks for: a new current period, no warning.
        clock.offset_ms = 0
        period, _, _ = await admin.rotate()
    finally:
        await store.close()
    status, body = await _call(server, "GET", "/api/keys/periods", token)
    assert [(p["period"], p["current"]) for p in body["periods"]] == [
        (first["period"], False), (period, True)]
    assert body["periods"][0]["replaced_at"] is not None
    assert body["warning"] is None
    entries = [e["action"] for e in await _audit(server, token)]
    assert "keys_rotate" in entries


async def test_warn_days_setting(harness: Harness) -> None:
    await harness.init_keys()  # a fresh period: its statement ends in 14 days
    quiet = harness.server()
    loud = harness.server(HELPLINE_KEY_WARN_DAYS="15")
    token = await _admin(harness, quiet)
    status, body = await _call(quiet, "GET", "/api/keys/periods", token)
    assert status == 200 and body["warning"] is None
    status, body = await _call(loud, "GET", "/api/keys/periods", token)
    assert body["warn_days"] == 15 and body["warning"]["code"] == "period_ending"
