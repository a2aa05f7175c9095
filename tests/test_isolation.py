"""Nobody reaches a conversation that is not theirs."""

from __future__ import annotations

import pytest

from helpline.client import ClientError
from helpline.domain.roles import Role
from tests.conftest import Harness, ServerProcess


async def test_a_young_person_cannot_read_or_write_another_conversation(
    harness: Harness, server: ServerProcess
) -> None:
    victim = await harness.youth()
    await victim.send(b"private")
    other = await harness.youth()
    # Events never name a conversation: a smuggled id is an unknown field, refused.
    for event, payload in [
        ("send", {"body": b"x", "conversation_id": victim.conversation_id}),
        ("history", {"after_seq": 0, "conversation_id": victim.conversation_id}),
    ]:
        ack = await other.emit_raw(event, payload)
        assert ack["error"]["code"] == "invalid_payload", event
    # Its own history holds only its own conversation.
    assert (await other.history(0))["messages"] == []
    # A resume token needs the secret, not only the id.
    ack = await other.emit_raw("resume", {"resume_token": f"{victim.conversation_id}.guess"})
    assert ack["error"]["code"] == "already_open"  # one conversation per connection
    fresh = await harness.youth(open_=False)
    ack = await fresh.emit_raw("resume", {"resume_token": f"{victim.conversation_id}.guess"})
    assert ack["error"]["code"] == "not_found"
    assert [m["body"] for m in (await victim.history(0))["messages"]] == [b"private"]


async def test_a_counsellor_cannot_act_on_a_conversation_they_do_not_hold(
    harness: Harness, server: ServerProcess
) -> None:
    holder = await harness.staff("olaf")
    outsider = await harness.staff("pia")
    youth = await harness.youth()
    cid = youth.conversation_id
    assert cid
    await holder.accept(cid)
    await youth.send(b"for olaf only")
    attempts = [
        ("send", {"conversation_id": cid, "body": b"intrusion"}),
        ("typing", {"conversation_id": cid, "typing": True}),
        ("history", {"conversation_id": cid, "after_seq": 0}),
        ("end", {"conversation_id": cid}),
        ("wrapup", {"conversation_id": cid, "form": "other", "age_band": "unknown",
                    "referral": "none"}),
    ]
    for event, payload in attempts:
        ack = await outsider.emit_raw(event, payload)
        assert ack["error"]["code"] == "not_found", event
    # "Not yours" and "does not exist" are the same answer.
    missing = await outsider.emit_raw("history", {"conversation_id": "A" * 22, "after_seq": 0})
    assert missing == await outsider.emit_raw("history", {"conversation_id": cid,
                                                          "after_seq": 0})
    # Nothing the outsider tried reached the conversation.
    assert [m["body"] for m in (await holder.history(cid))["messages"]] == [b"for olaf only"]
    assert youth.events("typing") == []


async def test_roles_see_only_what_is_theirs(harness: Harness, server: ServerProcess) -> None:
    police = await harness.staff("quinn", Role.POLICE)
    admin = await harness.staff("rosa", Role.ADMIN)
    counsellor = await harness.staff("sam")
    youth = await harness.youth()
    assert youth.conversation_id
    for client, event in [(police, "queue"), (police, "overview"), (counsellor, "overview")]:
        with pytest.raises(ClientError) as refused:
            await client.call(event)
        assert refused.value.code == "forbidden", (client, event)
    for client in (police, admin):
        with pytest.raises(ClientError) as refused:
            await client.accept(youth.conversation_id)
        assert refused.value.code == "forbidden"
    # Admins see the overview (metadata only); police see no queue updates at all.
    assert [c["conversation_id"] for c in await admin.overview()] == [youth.conversation_id]
    assert police.events("queue") == [] and police.events("overview") == []


async def test_supervisor_sees_the_overview_and_reassigns(
    harness: Harness, server: ServerProcess
) -> None:
    supervisor = await harness.staff("tess", Role.SUPERVISOR)
    first = await harness.staff("ugo")
    second = await harness.staff("vera")
    youth = await harness.youth()
    cid = youth.conversation_id
    assert cid
    await youth.send(b"secret words")
    overview = await supervisor.overview()
    assert overview[0]["state"] == "queued" and overview[0]["waiting_ms"] >= 0
    def named() -> int:
        return len([d for d in supervisor.events("overview") if cid in d["changed"]])
    before = named()
    await first.accept(cid)
    # The overview event names what changed; the console fetches those summaries.
    await supervisor.wait_until(lambda: named() > before)
    live = await supervisor.overview([cid])
    [row] = live
    assert row["state"] == "active"
    assert row["counsellor"] == "ugo" and row["conversation_id"] == cid
    assert b"secret words" not in repr(live).encode()  # never content
    # A supervisor may not read the transcript of a conversation they do not hold.
    with pytest.raises(ClientError) as refused:
        await supervisor.history(cid)
    assert refused.value.code == "not_found"

    moved = await supervisor.reassign(cid, "vera")
    assert moved["counsellor"] == "vera"
    await first.wait_for("assignment", lambda d: d["held"] is False)
    await second.wait_for("assignment", lambda d: d["held"] is True and d["by"] == "tess")
    await second.send(cid, b"vera here")
    await youth.wait_until(lambda: [m["body"] for m in youth.messages][-1:] == [b"vera here"])
    with pytest.raises(ClientError) as gone:
        await first.send(cid, b"still me?")
    assert gone.value.code == "not_found"
    with pytest.raises(ClientError) as not_counsellor:
        await supervisor.reassign(cid, "quinn-does-not-exist")
    assert not_counsellor.value.code == "not_found"
