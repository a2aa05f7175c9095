"""The queue: live positions for waiting young people, and the accept race."""

from __future__ import annotations

import asyncio

import pytest

from helpline.client import ClientError
from helpline.domain.roles import Role
from tests.conftest import Harness, ServerProcess


async def test_three_waiting_see_their_positions_change_live(
    harness: Harness, server: ServerProcess
) -> None:
    first, second, third = [await harness.youth() for _ in range(3)]
    assert [first.conversation_id, second.conversation_id] != [None, None]
    # Each learns its place on arrival.
    await second.wait_for("queue_position", lambda d: d == {
        "conversation_id": second.conversation_id, "position": 2, "queue_length": 2})
    await third.wait_for("queue_position", lambda d: d == {
        "conversation_id": third.conversation_id, "position": 3, "queue_length": 3})

    counsellor = await harness.staff("bea")
    assert [e["conversation_id"] for e in await counsellor.queue()] == [
        first.conversation_id, second.conversation_id, third.conversation_id]
    # Someone joining behind moves nobody, so nobody ahead is pushed anything: an open
    # costs the same whatever the queue's length (docs/protocol.md, `queue_position`).
    assert [d["position"] for d in first.events("queue_position")] == [1]
    assert [d["position"] for d in second.events("queue_position")] == [2]

    # The first is answered: the others move up by one, live.
    assert first.conversation_id is not None
    await counsellor.accept(first.conversation_id)
    await second.wait_for("queue_position", lambda d: d["position"] == 1)
    await third.wait_for("queue_position", lambda d: d["position"] == 2
                         and d["queue_length"] == 2)

    # The second leaves before anyone answered: the third is now first.
    assert await second.end() == "closed"
    await third.wait_for("queue_position", lambda d: d == {
        "conversation_id": third.conversation_id, "position": 1, "queue_length": 1})
    await counsellor.wait_until(lambda: [e["conversation_id"] for e in counsellor.queue_entries]
                                == [third.conversation_id])


async def test_accept_race_has_exactly_one_winner_each_round(
    harness: Harness, server: ServerProcess
) -> None:
    one = await harness.staff("carl")
    two = await harness.staff("dina")
    for round_ in range(20):
        youth = await harness.youth()
        cid = youth.conversation_id
        assert cid is not None
        results = await asyncio.gather(one.accept(cid), two.accept(cid),
                                       return_exceptions=True)
        wins = [r for r in results if isinstance(r, dict)]
        losses = [r for r in results if isinstance(r, ClientError)]
        assert len(wins) == 1, f"round {round_}: {results}"
        assert len(losses) == 1 and losses[0].code == "already_taken", results
        winner = one if wins[0]["counsellor"] == "carl" else two
        await winner.wrapup(cid, "unknown", "unknown", "none")
        await youth.disconnect()


async def test_counsellor_holds_up_to_the_limit(harness: Harness) -> None:
    harness.server(HELPLINE_MAX_CONVERSATIONS="2")
    counsellor = await harness.staff("emma")
    youths = [await harness.youth() for _ in range(3)]
    ids = [y.conversation_id for y in youths]
    assert None not in ids
    await counsellor.accept(ids[0])  # type: ignore[arg-type]
    await counsellor.accept(ids[1])  # type: ignore[arg-type]
    with pytest.raises(ClientError) as refused:
        await counsellor.accept(ids[2])  # type: ignore[arg-type]
    assert refused.value.code == "capacity_reached"
    # The refused one is still waiting for someone else, first in line.
    assert [e["conversation_id"] for e in await counsellor.queue()] == [ids[2]]
    # Wrapping one up frees a slot.
    await counsellor.wrapup(ids[0], "labour", "18_23", "labour_inspectorate")  # type: ignore[arg-type]
    await counsellor.accept(ids[2])  # type: ignore[arg-type]
    assert sorted(c["conversation_id"] for c in await counsellor.held()) == sorted(ids[1:])


async def test_queue_watchers_get_each_change_not_the_whole_queue(
    harness: Harness, server: ServerProcess
) -> None:
    counsellor = await harness.staff("fenna")
    waiting = [await harness.youth() for _ in range(6)]
    ids = [y.conversation_id for y in waiting]
    await counsellor.wait_until(lambda: len(counsellor.queue_entries) == 6)
    # One event per arrival, carrying only the one that joined, with its place.
    joined = [d["joined"] for d in counsellor.events("queue")]
    assert [[e["conversation_id"] for e in j] for j in joined] == [[i] for i in ids]
    assert [j[0]["position"] for j in joined] == [1, 2, 3, 4, 5, 6]
    assert [d["queue_length"] for d in counsellor.events("queue")] == [1, 2, 3, 4, 5, 6]

    # Someone in the middle is answered and someone else leaves: the list the console
    # builds from the changes is the queue the server holds, in order and numbered.
    other = await harness.staff("gijs")
    await other.accept(ids[2])  # type: ignore[arg-type]
    assert await waiting[4].end() == "closed"
    await counsellor.wait_for("queue", lambda d: d["left"] == [ids[4]])
    snapshot = await other.queue()
    assert [e["conversation_id"] for e in snapshot] == [ids[0], ids[1], ids[3], ids[5]]
    assert [(e["conversation_id"], e["position"]) for e in counsellor.queue_entries] == [
        (e["conversation_id"], e["position"]) for e in snapshot]
    assert [e["position"] for e in snapshot] == [1, 2, 3, 4]
    assert [e["order"] for e in snapshot] == sorted(e["order"] for e in snapshot)


async def test_the_overview_names_what_changed_at_a_bounded_rate(
    harness: Harness, server: ServerProcess
) -> None:
    supervisor = await harness.staff("hanna", role=Role.SUPERVISOR)
    waiting = [await harness.youth() for _ in range(8)]
    ids = {y.conversation_id for y in waiting}
    # Eight opens within a moment: every one is named (at most
    # HELPLINE_OVERVIEW_PUSH_SECONDS, 1 s, after the last), in far fewer pushes, and
    # no push reads or carries the whole overview.
    await supervisor.wait_until(lambda: ids <= {
        cid for d in supervisor.events("overview") for cid in d["changed"]}, timeout=5)
    assert 1 <= len(supervisor.events("overview")) < 8
    assert all(set(d) == {"changed"} for d in supervisor.events("overview"))

    # The console asks for the summaries of what changed; one that closed is "gone".
    first, second = waiting[0], waiting[1]
    assert first.conversation_id and second.conversation_id
    assert await first.end() == "closed"
    await supervisor.wait_for("overview", lambda d: first.conversation_id in d["changed"])
    answer = await supervisor.call("overview", {"conversation_ids": [
        first.conversation_id, second.conversation_id]})
    assert [c["conversation_id"] for c in answer["conversations"]] == [second.conversation_id]
    assert answer["conversations"][0]["state"] == "queued"
    assert answer["gone"] == [first.conversation_id]
    # Without ids: every live conversation.
    assert {c["conversation_id"] for c in await supervisor.overview()} == \
        ids - {first.conversation_id}
