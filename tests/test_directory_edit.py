"""Canned answers and the referral directory edited from the console (supervisor, admin):
stored in Redis with a version, checked by the shipped files' strict parsers, served at
once by every process, audited, announced to every staff console, and reset to the
shipped files. Real server processes, real Redis, the real socket.io client.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import aiohttp
import pytest

from helpline.client import login
from helpline.domain.roles import Role
from helpline.services.directory import load_directory
from helpline.transport.directory_http import DIRECTORY_BODY_MAX
from tests.conftest import PASSWORD, Harness, ServerProcess

SHIPPED = load_directory()


async def _token(harness: Harness, server: ServerProcess, name: str, role: Role) -> str:
    await harness.add_staff(name, role)
    return str((await login(server.url, name, PASSWORD))["token"])


async def _call(server: ServerProcess, method: str, path: str, token: str | None,
                body: Any = None, raw: bytes | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    kwargs: dict[str, Any] = {"headers": headers}
    if raw is not None:
        kwargs["data"] = raw
        headers["Content-Type"] = "application/json"
    elif body is not None:
        kwargs["json"] = body
    async with aiohttp.ClientSession() as http, http.request(
            method, f"{server.url}{path}", **kwargs) as resp:
        return resp.status, await resp.json()


def _shipped_canned() -> dict[str, Any]:
    return {"languages": {lang: {"language": lang, "answers": SHIPPED.canned(lang)}
                          for lang in SHIPPED.languages}}


def _edited_canned(title: str) -> dict[str, Any]:
    doc = _shipped_canned()
    for lang in doc["languages"].values():
        lang["answers"][0]["title"] = f"{title} ({lang['language']})"
    return doc


async def _audit(server: ServerProcess, admin: str) -> list[dict[str, Any]]:
    status, body = await _call(server, "GET", "/api/audit?limit=1000", admin)
    assert status == 200, body
    return list(body["entries"])


async def test_canned_answers_edited_served_audited_and_reset(harness: Harness) -> None:
    server = harness.server()
    sup = await _token(harness, server, "sup", Role.SUPERVISOR)
    admin = await _token(harness, server, "adm", Role.ADMIN)
    counsellor = await _token(harness, server, "cou", Role.COUNSELLOR)

    status, body = await _call(server, "GET", "/api/directory/canned", sup)
    assert status == 200
    assert body == {**_shipped_canned(), "version": 0, "source": "shipped"}

    status, body = await _call(server, "PUT", "/api/directory/canned", sup,
                               _edited_canned("Hallo"))
    assert status == 200, body
    assert (body["version"], body["source"]) == (1, "edited")
    assert body["languages"]["nl"]["answers"][0]["title"] == "Hallo (nl)"
    # The counsellor's route answers from the edit at once.
    status, body = await _call(server, "GET", "/api/canned?language=en", counsellor)
    assert status == 200 and body["answers"][0]["title"] == "Hallo (en)"
    assert body["languages"] == ["en", "nl"]

    # An admin may edit too, and add a language (with the same ids and tags).
    doc = _edited_canned("Hoi")
    doc["languages"]["pl"] = copy.deepcopy(doc["languages"]["en"])
    doc["languages"]["pl"]["language"] = "pl"
    status, body = await _call(server, "PUT", "/api/directory/canned", admin,
                               {**doc, "version": 1})
    assert status == 200 and body["version"] == 2, body
    status, body = await _call(server, "GET", "/api/canned?language=pl", counsellor)
    assert status == 200 and body["languages"] == ["en", "nl", "pl"]

    status, body = await _call(server, "DELETE", "/api/directory/canned", sup)
    assert status == 200
    assert body == {**_shipped_canned(), "version": 3, "source": "shipped"}
    status, body = await _call(server, "GET", "/api/canned", counsellor)
    assert body["answers"] == SHIPPED.canned("nl")
    status, body = await _call(server, "GET", "/api/canned?language=pl", counsellor)
    assert (status, body["error"]["code"]) == (400, "invalid_payload")

    entries = [e for e in await _audit(server, admin) if e["action"].startswith("canned_")]
    count = len(SHIPPED.canned("nl"))
    assert [(e["action"], e["actor"], e["details"]) for e in entries] == [
        ("canned_updated", "sup", {"version": 1, "count": count, "languages": ["en", "nl"]}),
        ("canned_updated", "adm", {"version": 2, "count": count,
                                   "languages": ["en", "nl", "pl"]}),
        ("canned_reset", "sup", {"version": 3}),
    ]


async def test_referrals_edited_served_and_reset(harness: Harness) -> None:
    server = harness.server()
    sup = await _token(harness, server, "sup", Role.SUPERVISOR)
    admin = await _token(harness, server, "adm", Role.ADMIN)
    police = await _token(harness, server, "pol", Role.POLICE)

    status, body = await _call(server, "GET", "/api/directory/referrals", sup)
    assert status == 200 and (body["version"], body["source"]) == (0, "shipped")
    assert body["referrals"] == SHIPPED.referrals()
    entries = body["referrals"]
    new = copy.deepcopy(entries[0])
    new.update(id="wijkteam_utrecht", name="Wijkteam Utrecht", kind="youth_care",
               regions=["utrecht"])
    status, body = await _call(server, "PUT", "/api/directory/referrals", sup,
                               {"referrals": [*entries[1:], new], "version": 0})
    assert status == 200 and (body["version"], body["source"]) == (1, "edited"), body
    status, body = await _call(server, "GET", "/api/referrals?region=utrecht&q=wijkteam",
                               police)
    assert [r["id"] for r in body["referrals"]] == ["wijkteam_utrecht"]
    status, body = await _call(server, "GET", "/api/referrals", police)
    assert entries[0]["id"] not in [r["id"] for r in body["referrals"]]

    status, body = await _call(server, "DELETE", "/api/directory/referrals", admin)
    assert status == 200 and (body["version"], body["source"]) == (2, "shipped")
    status, body = await _call(server, "GET", "/api/referrals", police)
    assert body["referrals"] == SHIPPED.referrals()
    got = [(e["action"], e["details"]) for e in await _audit(server, admin)
           if e["action"].startswith("referrals_")]
    assert got == [("referrals_updated", {"version": 1, "count": len(entries)}),
                   ("referrals_reset", {"version": 2})]


async def test_a_stale_version_is_a_conflict(harness: Harness) -> None:
    server = harness.server()
    sup = await _token(harness, server, "sup", Role.SUPERVISOR)
    first = _edited_canned("Eerste")
    assert (await _call(server, "PUT", "/api/directory/canned", sup,
                        {**first, "version": 0}))[0] == 200
    # A colleague who read version 0 too is refused, and nothing changes.
    status, body = await _call(server, "PUT", "/api/directory/canned", sup,
                               {**_edited_canned("Tweede"), "version": 0})
    assert (status, body["error"]["code"]) == (409, "conflict")
    assert "version 1" in body["error"]["message"]
    status, body = await _call(server, "GET", "/api/directory/canned", sup)
    assert body["version"] == 1
    assert body["languages"]["nl"]["answers"][0]["title"] == "Eerste (nl)"
    # Without a version the change is unconditional; with the current one it passes.
    assert (await _call(server, "PUT", "/api/directory/canned", sup,
                        _edited_canned("Derde")))[1]["version"] == 2
    assert (await _call(server, "PUT", "/api/directory/canned", sup,
                        {**first, "version": 2}))[1]["version"] == 3
    status, body = await _call(server, "PUT", "/api/directory/referrals", sup,
                               {"referrals": SHIPPED.referrals(), "version": 5})
    assert (status, body["error"]["code"]) == (409, "conflict")


def _canned_missing_an_id() -> dict[str, Any]:
    doc = _shipped_canned()
    doc["languages"]["en"]["answers"].pop()
    return doc


def _canned_wrong_language() -> dict[str, Any]:
    doc = _shipped_canned()
    doc["languages"]["en"]["language"] = "de"
    return doc


def _canned_long_title() -> dict[str, Any]:
    doc = _shipped_canned()
    doc["languages"]["nl"]["answers"][2]["title"] = "x" * 81
    return doc


def _referral_bad_kind() -> dict[str, Any]:
    referrals = SHIPPED.referrals()
    referrals[1]["kind"] = "bakery"
    return {"referrals": referrals}


def _referral_no_contact() -> dict[str, Any]:
    referrals = SHIPPED.referrals()
    referrals[0]["contact"] = {"phones": [], "url": None, "hours": None}
    return {"referrals": referrals}


def _referral_duplicate() -> dict[str, Any]:
    referrals = SHIPPED.referrals()
    return {"referrals": [*referrals, referrals[0]]}


@pytest.mark.parametrize(("what", "make", "needle"), [
    ("canned", _canned_missing_an_id, "ids differ"),
    ("canned", _canned_wrong_language, "canned/en: language is 'de'"),
    ("canned", _canned_long_title, "answers[2]"),
    ("canned", lambda: {"languages": {"en": _shipped_canned()["languages"]["en"]}}, "no nl"),
    ("canned", lambda: {**_shipped_canned(), "source": "edited"}, "Unknown field: source"),
    ("canned", lambda: {**_shipped_canned(), "version": "1"}, "version"),
    ("canned", lambda: [], "object"),
    ("referrals", _referral_bad_kind, "referrals[1]"),
    ("referrals", _referral_no_contact, "needs a phone number or a url"),
    ("referrals", _referral_duplicate, "duplicates"),
    ("referrals", lambda: {"referrals": []}, "1 to 500"),
    ("referrals", lambda: {}, "missing ['referrals']"),
])
async def test_a_broken_document_is_refused_naming_the_item(
    harness: Harness, what: str, make: Any, needle: str
) -> None:
    server = harness.server()
    sup = await _token(harness, server, "sup", Role.SUPERVISOR)
    status, body = await _call(server, "PUT", f"/api/directory/{what}", sup, make())
    assert (status, body["error"]["code"]) == (400, "invalid_payload"), body
    assert needle in body["error"]["message"], body
    status, body = await _call(server, "GET", f"/api/directory/{what}", sup)
    assert (body["version"], body["source"]) == (0, "shipped")


async def test_bodies_up_to_the_directory_limit(harness: Harness) -> None:
    server = harness.server()
    sup = await _token(harness, server, "sup", Role.SUPERVISOR)
    # 300 organisations with long descriptions: far over the 64 KiB of other requests.
    base = SHIPPED.referrals()[0]
    many = []
    for n in range(300):
        entry = copy.deepcopy(base)
        entry.update(id=f"org_{n}", what={"nl": "Hulp " + "n" * 590, "en": "Help " + "e" * 590})
        many.append(entry)
    raw = json.dumps({"referrals": many}).encode()
    assert 64 * 1024 < len(raw) < DIRECTORY_BODY_MAX
    status, body = await _call(server, "PUT", "/api/directory/referrals", sup, raw=raw)
    assert status == 200 and len(body["referrals"]) == 300, body
    status, body = await _call(server, "PUT", "/api/directory/referrals", sup,
                               raw=b" " * (DIRECTORY_BODY_MAX + 1))
    assert (status, body["error"]["code"]) == (413, "too_large")
    status, body = await _call(server, "PUT", "/api/directory/referrals", sup, raw=b"{nope")
    assert (status, body["error"]["code"]) == (400, "invalid_payload")


async def test_only_supervisors_and_admins_may_edit(harness: Harness) -> None:
    server = harness.server()
    tokens = {role: await _token(harness, server, f"r{role.value}", role)
              for role in (Role.COUNSELLOR, Role.POLICE)}
    for what in ("canned", "referrals"):
        path = f"/api/directory/{what}"
        for method in ("GET", "PUT", "DELETE"):
            body = _shipped_canned() if what == "canned" else {"referrals": []}
            status, answer = await _call(server, method, path, None, body)
            assert (status, answer["error"]["code"]) == (401, "unauthorized")
            for role, token in tokens.items():
                status, answer = await _call(server, method, path, token, body)
                assert (status, answer["error"]["code"]) == (403, "forbidden"), (role, method)
    sup = await _token(harness, server, "sup", Role.SUPERVISOR)
    assert (await _call(server, "GET", "/api/directory/canned?x=1", sup))[0] == 400


async def test_every_process_serves_the_edit_at_once_and_consoles_are_told(
    harness: Harness
) -> None:
    a = harness.server(HELPLINE_FANOUT="redis")
    b = harness.server(HELPLINE_FANOUT="redis")
    sup = await _token(harness, a, "sup", Role.SUPERVISOR)
    on_a = await harness.staff("anna", server=a)
    on_b = await harness.staff("bert", server=b)
    cou = str((await login(b.url, "bert", PASSWORD))["token"])
    # b has served (and cached) the shipped data before the change.
    assert (await _call(b, "GET", "/api/canned", cou))[1]["answers"] == SHIPPED.canned("nl")

    status, _ = await _call(a, "PUT", "/api/directory/canned", sup, _edited_canned("Nieuw"))
    assert status == 200
    status, body = await _call(b, "GET", "/api/canned", cou)
    assert body["answers"][0]["title"] == "Nieuw (nl)"
    for client in (on_a, on_b):
        event = await client.wait_for("directory_changed")
        assert event == {"what": "canned", "version": 1}

    referrals = SHIPPED.referrals()[:3]
    status, _ = await _call(b, "PUT", "/api/directory/referrals", sup, {"referrals": referrals})
    assert status == 200
    assert (await _call(a, "GET", "/api/referrals", cou))[1]["referrals"] == referrals
    for client in (on_a, on_b):
        await client.wait_for("directory_changed", lambda e: e["what"] == "referrals")

    status, _ = await _call(a, "DELETE", "/api/directory/canned", sup)
    assert status == 200
    assert (await _call(b, "GET", "/api/canned", cou))[1]["answers"] == SHIPPED.canned("nl")
    event = await on_b.wait_for("directory_changed", lambda e: e["version"] == 2
                                and e["what"] == "canned")
    assert event == {"what": "canned", "version": 2}
