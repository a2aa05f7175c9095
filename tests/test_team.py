"""The team view: who of the staff is online across server processes (Redis presence
with a lapsing heartbeat), how many conversations each holds; supervisors and admins
only; a `team` event when someone comes online or goes offline."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from helpline.client import ClientError, StaffClient
from helpline.domain.roles import Role
from tests.conftest import Harness

TTL = "1.5"  # HELPLINE_PRESENCE_TTL_SECONDS: renewed every 0.5 s
SCALED = {"HELPLINE_FANOUT": "redis", "HELPLINE_PRESENCE_TTL_SECONDS": TTL}


async def _team(client: StaffClient) -> dict[str, dict[str, Any]]:
    rows = (await client.call("team"))["team"]
    assert [r["username"] for r in rows] == sorted(r["username"] for r in rows)
    return {r["username"]: r for r in rows}


async def _until_online(client: StaffClient, username: str, online: bool,
                        timeout: float = 8.0) -> float:
    """Poll `team` until `username` is (not) online; the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if (await _team(client))[username]["online"] is online:
            return time.monotonic() - start
        await asyncio.sleep(0.1)
    raise AssertionError(f"{username} never became online={online}")


def _team_events(client: StaffClient, username: str) -> int:
    return sum(username in e["changed"] for e in client.events("team"))


async def test_presence_across_two_processes(harness: Harness) -> None:
    a = harness.server(**SCALED)
    b = harness.server(**SCALED)
    await harness.add_staff("agent-vos", Role.POLICE)  # never connects
    await harness.add_staff("root", Role.ADMIN)
    sup = await harness.staff("sien", Role.SUPERVISOR, server=a)
    counsellor = await harness.staff("cas", server=b)
    youth = await harness.youth(a)
    assert youth.conversation_id
    await counsellor.accept(youth.conversation_id)

    # A connection on B is seen by the supervisor on A, with its load.
    await sup.wait_for("team", lambda d: "cas" in d["changed"])
    team = await _team(sup)
    assert set(team) == {"agent-vos", "cas", "sien"}  # no admin
    assert team["cas"] == {"username": "cas", "role": "counsellor", "languages": [],
                           "online": True, "holds": 1,
                           "max_conversations": team["cas"]["max_conversations"]}
    assert team["cas"]["max_conversations"] == 3
    assert team["sien"]["online"] is True and team["sien"]["holds"] == 0
    assert team["agent-vos"]["online"] is False and team["agent-vos"]["role"] == "police"
    # Counts only: nothing about the young person.
    assert youth.conversation_id not in str(team)

    # Two tabs: closing one leaves the person online.
    second = await harness.staff("cas", server=a, create=False)
    await second.disconnect()
    await asyncio.sleep(0.3)
    assert (await _team(sup))["cas"]["online"] is True

    # Disconnecting the last tab: offline at once, with a team event.
    before = _team_events(sup, "cas")
    await counsellor.disconnect()
    await sup.wait_until(lambda: _team_events(sup, "cas") > before)
    assert (await _team(sup))["cas"]["online"] is False
    assert (await _team(sup))["cas"]["holds"] == 1  # still holds the conversation

    # Back online on B: an event again.
    before = _team_events(sup, "cas")
    await harness.staff("cas", server=b, create=False)
    await sup.wait_until(lambda: _team_events(sup, "cas") > before)
    assert (await _team(sup))["cas"]["online"] is True


async def test_a_killed_process_sockets_go_offline_within_the_ttl(harness: Harness) -> None:
    a = harness.server(**SCALED)
    b = harness.server(**SCALED)
    admin = await harness.staff("adri", Role.ADMIN, server=a)
    await harness.staff("kees", server=b)
    await _until_online(admin, "kees", True)
    before = _team_events(admin, "kees")
    b.kill()  # no disconnect handler runs: only the lapse can take kees offline
    took = await _until_online(admin, "kees", False)
    assert took <= float(TTL) + 1.0
    # Process A's prune noticed it and told the overview room.
    await admin.wait_until(lambda: _team_events(admin, "kees") > before, timeout=3)


async def test_a_stopped_process_takes_its_sockets_out(harness: Harness) -> None:
    a = harness.server(HELPLINE_FANOUT="redis")  # default TTL: 30 s
    b = harness.server(HELPLINE_FANOUT="redis")
    sup = await harness.staff("saar", Role.SUPERVISOR, server=a)
    await harness.staff("lot", server=b)
    await _until_online(sup, "lot", True)
    b.stop()  # a clean shutdown removes its members at once, long before the TTL
    assert await _until_online(sup, "lot", False, timeout=5) < 5


async def test_only_supervisors_and_admins_see_the_team(harness: Harness) -> None:
    harness.server()
    for role in (Role.COUNSELLOR, Role.POLICE):
        client = await harness.staff(f"x-{role.value}", role)
        with pytest.raises(ClientError) as err:
            await client.call("team")
        assert err.value.code == "forbidden"
    sup = await harness.staff("sjef", Role.SUPERVISOR)
    with pytest.raises(ClientError) as err:
        await sup.call("team", {"all": True})
    assert err.value.code == "invalid_payload"
    # Presence is kept for the floor's roles only; a counsellor gets no team event.
    counsellor = await harness.staff("mila")
    await harness.staff("nova")
    await sup.wait_for("team", lambda d: "nova" in d["changed"])
    await asyncio.sleep(0.2)
    assert counsellor.events("team") == []
