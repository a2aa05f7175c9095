"""The console's reference data: canned answers and the referral directory.

The shipped files are checked strictly when the server starts (a broken one is refused
with an error naming the file and item); the two staff-only routes are exercised
against a real server process.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from helpline.client import login
from helpline.domain.roles import Role
from helpline.services.directory import (
    KINDS,
    PROVINCES,
    REGIONS,
    DirectoryDataError,
    load_directory,
)
from tests.conftest import PASSWORD, Harness, ServerProcess

DATA = Path(str(resources.files("helpline.data")))


# -- the shipped data ------------------------------------------------------------------


def test_the_shipped_data_loads_with_the_same_answers_in_every_language() -> None:
    directory = load_directory()
    assert directory.languages == ("en", "nl")
    nl, en = directory.canned("nl"), directory.canned("en")
    assert [a["id"] for a in nl] == [a["id"] for a in en]
    assert len(nl) >= 15
    assert {"greeting", "ask_age", "ask_safety", "anonymity", "police_can", "police_cannot",
            "police_consent", "acute_danger", "return_code", "referral_offer",
            "ending"} <= {a["id"] for a in nl}
    acute = {a["id"]: a["text"] for a in nl}["acute_danger"]
    assert "112" in acute


def test_the_shipped_directory_names_the_national_organisations() -> None:
    referrals = {r["id"]: r for r in load_directory().referrals()}
    phones = {r["id"]: [p["number"] for p in r["contact"]["phones"]]
              for r in referrals.values()}
    assert phones["politie"] == ["112", "0900-8844"]
    assert phones["meld_misdaad_anoniem"] == ["0800-7000"]
    assert phones["kindertelefoon"] == ["0800-0432"]
    assert phones["veilig_thuis"] == ["0800-2000"]
    coordinators = referrals["zorgcoordinatie_mensenhandel"]
    assert coordinators["kind"] == "care_coordination"
    assert sorted(coordinators["regions"]) == sorted(PROVINCES)
    assert coordinators["note"]["nl"] and coordinators["note"]["en"]
    assert {r["kind"] for r in referrals.values()} <= set(KINDS)
    assert all(r["contact"]["phones"] or r["contact"]["url"] for r in referrals.values())


# -- a broken file is refused with a clear error ----------------------------------------


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(DATA, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return folder


def _edit(path: Path, change: Callable[[Any], None]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _answer(data: Any, n: int = 0) -> Any:
    return data["answers"][n]


def _referral(data: Any, n: int = 0) -> Any:
    return data["referrals"][n]


CANNED_BREAKS: list[tuple[str, Callable[[Any], None], str]] = [
    ("duplicate id", lambda d: _answer(d, 1).update(id=_answer(d)["id"]),
     "duplicates ['greeting']"),
    ("unknown field", lambda d: _answer(d).update(colour="red"), "unknown fields ['colour']"),
    ("missing text", lambda d: _answer(d).pop("text"), "missing ['text']"),
    ("long text", lambda d: _answer(d).update(text="x" * 1201), "longer than 1200"),
    ("long title", lambda d: _answer(d).update(title="x" * 81), "longer than 80"),
    ("empty text", lambda d: _answer(d).update(text="  "), "non-empty string"),
    ("bad id", lambda d: _answer(d).update(id="Hello There"), "is not of the form"),
    ("no tags", lambda d: _answer(d).update(tags=[]), "list of 1 to 6"),
    ("bad tag", lambda d: _answer(d).update(tags=["Start!"]), "is not of the form"),
    ("tag not a string", lambda d: _answer(d).update(tags=[7]), "non-empty string"),
    ("an id dropped", lambda d: d["answers"].pop(), "ids differ from"),
    ("another order", lambda d: d["answers"].reverse(), "ids differ from"),
    ("other tags", lambda d: _answer(d).update(tags=["other"]), "has tags ['other']"),
    ("wrong language", lambda d: d.update(language="de"), "language is 'de'"),
    ("no answers", lambda d: d.update(answers=[]), "list of 1 to 200"),
]


@pytest.mark.parametrize(("name", "change", "message"), CANNED_BREAKS,
                         ids=[b[0] for b in CANNED_BREAKS])
def test_a_broken_canned_file_is_refused(
    tmp_path: Path, name: str, change: Callable[[Any], None], message: str
) -> None:
    folder = _copy(tmp_path)
    _edit(folder / "canned" / "en.json", change)
    with pytest.raises(DirectoryDataError, match="canned") as err:
        load_directory(folder)
    assert message in str(err.value), str(err.value)


REFERRAL_BREAKS: list[tuple[str, Callable[[Any], None], str]] = [
    ("duplicate id", lambda d: _referral(d, 1).update(id=_referral(d)["id"]),
     "duplicates ['politie']"),
    ("kind outside the list", lambda d: _referral(d).update(kind="church"),
     "'church' is not one of"),
    ("unknown region", lambda d: _referral(d).update(regions=["atlantis"]),
     "['atlantis'] not among"),
    ("national and a province", lambda d: _referral(d).update(regions=["national", "utrecht"]),
     "'national' stands alone"),
    ("duplicate region", lambda d: _referral(d).update(regions=["utrecht", "utrecht"]),
     "duplicates ['utrecht']"),
    ("what in one language only", lambda d: _referral(d).update(what={"nl": "iets"}),
     "missing ['en']"),
    ("no way to reach them", lambda d: _referral(d)["contact"].update(phones=[], url=None),
     "needs a phone number or a url"),
    ("a made-up phone format", lambda d: _referral(d)["contact"]["phones"][0].update(
        number="call us"), "is not of the form"),
    ("plain http url", lambda d: _referral(d)["contact"].update(url="http://politie.nl"),
     "is not of the form"),
    ("a url the widget would not link", lambda d: _referral(d)["contact"].update(
        url="https://politie.nl@evil.example"), "not sendable as a card"),
    ("a label with a line break", lambda d: _referral(d)["contact"]["phones"][0]["label"].update(
        nl="bel\nons"), "not sendable as a card"),
    ("unknown contact field", lambda d: _referral(d)["contact"].update(email="a@b.nl"),
     "unknown fields ['email']"),
    ("long description", lambda d: _referral(d)["what"].update(en="x" * 601),
     "longer than 600"),
    ("bad language code", lambda d: _referral(d).update(languages=["dutch"]),
     "longer than 2"),
    ("empty list", lambda d: d.update(referrals=[]), "list of 1 to 500"),
    ("unknown top-level field", lambda d: d.update(version=2), "unknown fields ['version']"),
]


@pytest.mark.parametrize(("name", "change", "message"), REFERRAL_BREAKS,
                         ids=[b[0] for b in REFERRAL_BREAKS])
def test_a_broken_referral_file_is_refused(
    tmp_path: Path, name: str, change: Callable[[Any], None], message: str
) -> None:
    folder = _copy(tmp_path)
    _edit(folder / "referrals.json", change)
    with pytest.raises(DirectoryDataError, match="referrals") as err:
        load_directory(folder)
    assert message in str(err.value), str(err.value)


def test_files_that_are_not_json_or_missing_are_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "referrals.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DirectoryDataError, match=r"referrals.json: not valid JSON"):
        load_directory(folder)
    (folder / "referrals.json").unlink()
    with pytest.raises(DirectoryDataError, match=r"referrals.json: not found"):
        load_directory(folder)
    folder = _copy(tmp_path / "again")
    (folder / "canned" / "nl.json").unlink()
    with pytest.raises(DirectoryDataError, match=r"no nl.json"):
        load_directory(folder)


# -- the routes, on a real server ---------------------------------------------------------


async def _tokens(harness: Harness, server: ServerProcess) -> dict[Role, str]:
    tokens = {}
    for role in Role:
        name = f"ref{role.value}"
        await harness.add_staff(name, role)
        tokens[role] = (await login(server.url, name, PASSWORD))["token"]
    return tokens


async def _get(server: ServerProcess, path: str, token: str | None = None
               ) -> tuple[int, dict[str, Any], str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.get(
            f"{server.url}{path}", headers=headers) as resp:
        return resp.status, await resp.json(), resp.headers.get("Cache-Control", "")


async def test_both_routes_refuse_without_a_live_staff_session(
    harness: Harness, server: ServerProcess
) -> None:
    await harness.add_staff("gone")
    token = (await login(server.url, "gone", PASSWORD))["token"]
    async with aiohttp.ClientSession() as http, http.post(
            f"{server.url}/api/logout", headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 204
    for path in ("/api/canned", "/api/referrals"):
        for bad in (None, "x" * 43, token):  # none, unknown, logged out
            status, body, cache = await _get(server, path, bad)
            assert (status, body["error"]["code"]) == (401, "unauthorized"), (path, bad)
            assert cache == "no-store"
        async with aiohttp.ClientSession() as http, http.get(
                f"{server.url}{path}", headers={"Authorization": "Basic abc"}) as resp:
            assert resp.status == 401


async def test_canned_answers_by_language_and_who_may_read_them(
    harness: Harness, server: ServerProcess
) -> None:
    tokens = await _tokens(harness, server)
    shipped = load_directory()
    for role in (Role.COUNSELLOR, Role.SUPERVISOR, Role.ADMIN):
        status, body, cache = await _get(server, "/api/canned", tokens[role])
        assert status == 200 and cache == "no-store"
        assert body["language"] == "nl" and body["languages"] == ["en", "nl"]
        assert body["answers"] == shipped.canned("nl")
    status, body, _ = await _get(server, "/api/canned?language=en", tokens[Role.COUNSELLOR])
    assert status == 200 and body["language"] == "en"
    assert body["answers"] == shipped.canned("en")
    assert set(body["answers"][0]) == {"id", "title", "text", "tags"}
    # An officer joins chats only with consent and writes their own words.
    status, body, _ = await _get(server, "/api/canned", tokens[Role.POLICE])
    assert (status, body["error"]["code"]) == (403, "forbidden")


@pytest.mark.parametrize("query", [
    "language=de", "language=", "language=NL", "lang=nl", "language=nl&language=en"])
async def test_bad_canned_parameters_get_invalid_payload(
    harness: Harness, server: ServerProcess, query: str
) -> None:
    await harness.add_staff("paula")
    token = (await login(server.url, "paula", PASSWORD))["token"]
    status, body, cache = await _get(server, f"/api/canned?{query}", token)
    assert (status, body["error"]["code"]) == (400, "invalid_payload")
    assert cache == "no-store"


async def test_referrals_filter_by_region_kind_and_search(
    harness: Harness, server: ServerProcess
) -> None:
    tokens = await _tokens(harness, server)
    counsellor = tokens[Role.COUNSELLOR]

    async def ids(query: str, token: str = counsellor) -> list[str]:
        status, body, cache = await _get(server, f"/api/referrals?{query}", token)
        assert status == 200 and cache == "no-store", body
        assert body["regions"] == list(REGIONS) and body["kinds"] == list(KINDS)
        return [r["id"] for r in body["referrals"]]

    every = await ids("")
    assert len(every) == len(load_directory().referrals()) >= 11
    # A province gets the national organisations and its own; "national" only those.
    assert await ids("region=utrecht") == every
    national = await ids("region=national")
    assert "zorgcoordinatie_mensenhandel" not in national
    assert set(every) - set(national) == {"zorgcoordinatie_mensenhandel"}
    assert await ids("kind=police") == ["politie"]
    assert await ids("kind=care_coordination&region=zeeland") == [
        "zorgcoordinatie_mensenhandel"]
    assert await ids("kind=care_coordination&region=national") == []
    # Search: any case, over name, kind and the description in either language.
    assert await ids("q=ARBEIDSINSPECTIE") == ["arbeidsinspectie"]
    assert await ids("q=labour%20authority") == ["arbeidsinspectie"]
    assert await ids("q=sexual_violence") == ["centrum_seksueel_geweld"]
    assert "kindertelefoon" in await ids("q=Jongeren%20tot%2018")
    assert await ids("q=no%20such%20organisation") == []
    assert await ids("q=") == every  # an empty search box filters nothing
    assert await ids("q=mensenhandel&kind=shelter") == ["fier"]
    # Officers may read the directory too.
    assert await ids("kind=victim_support", tokens[Role.POLICE]) == ["slachtofferhulp"]
    _, body, _ = await _get(server, "/api/referrals?kind=police", counsellor)
    politie = body["referrals"][0]
    assert politie["contact"]["url"] == "https://www.politie.nl"
    assert politie["what"]["nl"] and politie["what"]["en"]


@pytest.mark.parametrize("query", [
    "region=atlantis", "region=", "region=Utrecht", "kind=church", "kind=",
    f"q={'x' * 101}", "search=politie", "kind=police&kind=other"])
async def test_bad_referral_parameters_get_invalid_payload(
    harness: Harness, server: ServerProcess, query: str
) -> None:
    await harness.add_staff("quinn", Role.POLICE)
    token = (await login(server.url, "quinn", PASSWORD))["token"]
    status, body, cache = await _get(server, f"/api/referrals?{query}", token)
    assert (status, body["error"]["code"]) == (400, "invalid_payload"), body
    assert cache == "no-store"
