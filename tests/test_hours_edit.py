"""Opening hours changed from the console (supervisor, admin): checked by the same parser
as HELPLINE_OPENING_HOURS, stored in Redis, used by the very next `open` in every
process, audited, and reset to the environment's values. Real server processes, real
Redis, the real widget-side client.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import aiohttp
import pytest

from helpline.client import login
from helpline.domain.hours import AMSTERDAM, parse_hours
from helpline.domain.roles import Role
from tests.conftest import PASSWORD, Harness, ServerProcess

ENV_HOURS = "mon-sun 00:00-24:00"


async def _token(harness: Harness, server: ServerProcess, name: str, role: Role) -> str:
    await harness.add_staff(name, role)
    return str((await login(server.url, name, PASSWORD))["token"])


async def _call(server: ServerProcess, method: str, token: str | None,
                body: Any = None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.request(
            method, f"{server.url}/api/hours", headers=headers, json=body) as resp:
        return resp.status, await resp.json()


def _today() -> str:
    return dt.datetime.now(AMSTERDAM).date().isoformat()


def _day(offset: int) -> dt.date:
    return dt.datetime.now(AMSTERDAM).date() + dt.timedelta(days=offset)


def _midnight_ms(offset: int) -> int:
    return int(dt.datetime.combine(_day(offset), dt.time(0), tzinfo=AMSTERDAM).timestamp()
               * 1000)


async def test_hours_from_the_console_apply_to_the_next_open_in_every_process(
    harness: Harness
) -> None:
    holiday = _day(10).isoformat()
    env = {"HELPLINE_FANOUT": "redis", "HELPLINE_OPENING_HOURS": ENV_HOURS,
           "HELPLINE_HOLIDAYS": holiday}
    a = harness.server(**env)
    b = harness.server(**env)
    sup = await _token(harness, a, "sup", Role.SUPERVISOR)
    admin = await _token(harness, a, "adm", Role.ADMIN)

    status, body = await _call(a, "GET", sup)
    assert status == 200
    # Open around the clock until the holiday in ten days.
    assert body == {"opening_hours": ENV_HOURS, "holidays": [holiday], "source": "env",
                    "open_now": True, "next_change_at": _midnight_ms(10)}
    assert (await harness.youth(b)).state == "queued"

    # Closed today (a holiday): the next open, on the other process, lands offline.
    status, body = await _call(a, "PUT", sup, {"opening_hours": ENV_HOURS,
                                               "holidays": [_today(), "2030-01-01", _today()]})
    assert status == 200, body
    assert body == {"opening_hours": ENV_HOURS, "holidays": sorted({_today(), "2030-01-01"}),
                    "source": "console", "open_now": False,
                    "next_change_at": _midnight_ms(1)}
    youth = await harness.youth(b)
    assert youth.state == "offline"
    status, body = await _call(b, "GET", admin)
    assert (body["source"], body["open_now"]) == ("console", False)

    # Never open at all: nothing to change to.
    status, body = await _call(b, "PUT", admin, {"opening_hours": "mon-sun closed",
                                                 "holidays": []})
    assert status == 200 and (body["open_now"], body["next_change_at"]) == (False, None)
    assert (await harness.youth(a)).state == "offline"

    # Back to the environment's values.
    status, body = await _call(a, "DELETE", sup)
    assert status == 200
    assert (body["source"], body["opening_hours"], body["holidays"], body["open_now"]) == (
        "env", ENV_HOURS, [holiday], True)
    assert (await harness.youth(b)).state == "queued"
    assert (await harness.youth(a)).state == "queued"

    status, audit = await aiohttp_get_audit(a, admin)
    got = [(e["action"], e["actor"], e["details"]) for e in audit
           if e["action"].startswith("hours_")]
    assert got == [
        ("hours_changed", "sup", {"opening_hours": ENV_HOURS,
                                  "holidays": sorted({_today(), "2030-01-01"})}),
        ("hours_changed", "adm", {"opening_hours": "mon-sun closed", "holidays": []}),
        ("hours_reset", "sup", {"opening_hours": ENV_HOURS, "holidays": [holiday]}),
    ]


async def aiohttp_get_audit(server: ServerProcess, token: str
                            ) -> tuple[int, list[dict[str, Any]]]:
    async with aiohttp.ClientSession() as http, http.get(
            f"{server.url}/api/audit?limit=1000",
            headers={"Authorization": f"Bearer {token}"}) as resp:
        return resp.status, (await resp.json())["entries"]


async def test_open_hours_report_when_they_close(harness: Harness) -> None:
    server = harness.server()
    sup = await _token(harness, server, "sup", Role.SUPERVISOR)
    status, body = await _call(server, "GET", sup)
    assert body == {"opening_hours": "always", "holidays": [], "source": "env",
                    "open_now": True, "next_change_at": None}
    spec = "mon-fri 09:00-17:00; sat 10:00-12:00,13:00-15:00; sun closed"
    status, body = await _call(server, "PUT", sup, {"opening_hours": spec, "holidays": []})
    assert status == 200
    now = dt.datetime.now(dt.UTC)
    hours = parse_hours(spec)
    change = hours.next_change(now)
    assert change is not None
    assert body["open_now"] == hours.is_open(now)
    assert body["next_change_at"] == int(change.timestamp() * 1000)


def test_next_change_in_the_domain() -> None:
    hours = parse_hours("mon-fri 09:00-17:00; sat 22:00-24:00; sun 00:00-02:00",
                        "2026-12-25")
    at = dt.datetime(2026, 12, 23, 10, 0, tzinfo=AMSTERDAM)  # a Wednesday, open
    assert hours.next_change(at) == dt.datetime(2026, 12, 23, 17, 0, tzinfo=AMSTERDAM)
    evening = dt.datetime(2026, 12, 24, 18, 0, tzinfo=AMSTERDAM)  # Thursday, closed
    # Friday the 25th is a holiday: the next opening is Saturday evening.
    assert hours.next_change(evening) == dt.datetime(2026, 12, 26, 22, 0, tzinfo=AMSTERDAM)
    # Open across midnight into Sunday: closes at Sunday 02:00.
    saturday = dt.datetime(2026, 12, 26, 23, 0, tzinfo=AMSTERDAM)
    assert hours.next_change(saturday) == dt.datetime(2026, 12, 27, 2, 0, tzinfo=AMSTERDAM)
    assert parse_hours("always").next_change(at) is None
    assert parse_hours("mon-sun closed").next_change(at) is None


@pytest.mark.parametrize(("body", "status", "needle"), [
    ({"opening_hours": "mon-fri 25:00-26:00", "holidays": []}, 400, "is not a time of day"),
    ({"opening_hours": "mon-fri 17:00-09:00", "holidays": []}, 400, "after the start"),
    ({"opening_hours": "maandag 09:00-17:00", "holidays": []}, 400, "days are mon"),
    ({"opening_hours": "mon-fri 09:00-17:00", "holidays": ["2026-13-01"]}, 400, "month"),
    ({"opening_hours": "mon-fri 09:00-17:00", "holidays": ["christmas"]}, 400, "christmas"),
    ({"opening_hours": "mon-fri 09:00-17:00"}, 400, "holidays"),
    ({"opening_hours": "always", "holidays": [], "source": "env"}, 400, "Unknown field"),
    ({"opening_hours": "x" * 501, "holidays": []}, 413, "longer than 500"),
])
async def test_bad_hours_are_refused_with_the_parsers_message(
    harness: Harness, body: dict[str, Any], status: int, needle: str
) -> None:
    server = harness.server()
    sup = await _token(harness, server, "sup", Role.SUPERVISOR)
    got, answer = await _call(server, "PUT", sup, body)
    assert got == status, answer
    assert answer["error"]["code"] == ("invalid_payload" if status == 400 else "too_large")
    assert needle in answer["error"]["message"], answer
    assert (await _call(server, "GET", sup))[1]["source"] == "env"


async def test_only_supervisors_and_admins_may_see_or_change_the_hours(
    harness: Harness
) -> None:
    server = harness.server()
    body = {"opening_hours": "mon-sun closed", "holidays": []}
    for method in ("GET", "PUT", "DELETE"):
        status, answer = await _call(server, method, None, body)
        assert (status, answer["error"]["code"]) == (401, "unauthorized")
    for role in (Role.COUNSELLOR, Role.POLICE):
        token = await _token(harness, server, f"r{role.value}", role)
        for method in ("GET", "PUT", "DELETE"):
            status, answer = await _call(server, method, token, body)
            assert (status, answer["error"]["code"]) == (403, "forbidden"), (role, method)
    assert (await harness.youth(server)).state == "queued"
