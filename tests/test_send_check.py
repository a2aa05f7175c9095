"""The append script's SEND check against `check_access`, as a table.

A message costs one round trip because the append script checks access itself; it
mirrors the SEND rule of helpline/domain/access.py. This table runs every actor x
state x handover x consent case through both and requires the same outcome (the same
error class and message, or success), so the two cannot drift apart unseen.
"""

from __future__ import annotations

import itertools

import pytest

from helpline.domain.access import Action, StaffActor, YouthActor, check_access
from helpline.domain.conversation import UNANSWERED, Conversation, State
from helpline.domain.handover import Handover
from helpline.domain.ids import ConversationId, Username
from helpline.domain.roles import Role
from helpline.errors import HelplineError
from helpline.services.conversations import _send_check, _send_error
from helpline.storage.message_store import SendRefused
from helpline.storage.redis_store import RedisStore, connect_redis

NOW = 1_800_000_000
CID = ConversationId("C" * 22)
OTHER = ConversationId("D" * 22)
ACTORS: dict[str, YouthActor | StaffActor] = {
    "youth": YouthActor(CID),
    "other_youth": YouthActor(OTHER),
    "holder": StaffActor(Username("holder"), Role.COUNSELLOR),
    "counsellor": StaffActor(Username("counsellor"), Role.COUNSELLOR),
    "supervisor": StaffActor(Username("supervisor"), Role.SUPERVISOR),
    "admin": StaffActor(Username("admin"), Role.ADMIN),
    "officer": StaffActor(Username("officer"), Role.POLICE),
    "colleague": StaffActor(Username("colleague"), Role.POLICE),
}
# Consent expiry relative to NOW: still valid, just lapsed, none recorded.
EXPIRIES = [60, 0, None]


def outcome(exc: BaseException | None) -> tuple[str, str] | None:
    if exc is None:
        return None
    assert isinstance(exc, HelplineError)
    return type(exc).__name__, exc.message


def domain_outcome(actor: YouthActor | StaffActor, conv: Conversation) -> object:
    try:
        check_access(actor, conv, Action.SEND, now=NOW)
    except HelplineError as exc:
        return outcome(exc)
    return None


async def script_outcome(store: RedisStore, actor: YouthActor | StaffActor) -> object:
    try:
        kind, name, role = _send_check(actor, CID)
        try:
            await store.append_message(CID, kind, name, role.value, NOW * 1000, b"x", None)
        except SendRefused as refused:
            raise _send_error(refused.status) from None
    except HelplineError as exc:
        return outcome(exc)
    return None


async def test_append_script_mirrors_check_access_for_send(redis_url: str,
                                                          prefix: str) -> None:
    store = RedisStore(connect_redis(redis_url, 4), prefix)
    checked = 0
    try:
        for state, handover, expiry in itertools.product(list(State), list(Handover),
                                                         EXPIRIES):
            conv = Conversation(
                id=CID, state=state, created_at=0, queued_at=0, last_seq=0,
                counsellor=None if state in UNANSWERED else Username("holder"),
                handover=handover, police_officer=Username("officer"),
                police_expires=None if expiry is None else NOW + expiry)
            fields: dict[str, str] = {"state": state.value, "handover": handover.value,
                                      "police_officer": "officer"}
            if conv.counsellor:
                fields["counsellor"] = conv.counsellor
            if conv.police_expires is not None:
                fields["police_expires"] = str(conv.police_expires)
            await store.redis.delete(store.keys.conv(CID))
            await store.redis.hset(store.keys.conv(CID), mapping=fields)  # type: ignore[misc]
            for name, actor in ACTORS.items():
                want = domain_outcome(actor, conv)
                got = await script_outcome(store, actor)
                assert got == want, (name, state, handover, expiry)
                checked += 1
        # And a conversation that does not exist.
        await store.redis.delete(store.keys.conv(CID))
        for name, actor in ACTORS.items():
            assert await script_outcome(store, actor) == domain_outcome_missing(actor), name
    finally:
        await store.redis.delete(store.keys.conv(CID), store.keys.msgs(CID),
                                 store.keys.dedup(CID))
        await store.close()
    assert checked == len(State) * len(Handover) * len(EXPIRIES) * len(ACTORS)


def domain_outcome_missing(actor: YouthActor | StaffActor) -> object:
    try:
        check_access(actor, None, Action.SEND, now=NOW)
    except HelplineError as exc:
        return outcome(exc)
    return None


@pytest.mark.parametrize("client_msg_id", ["m1"])
async def test_a_refused_resend_is_refused_not_answered_from_dedup(
        redis_url: str, prefix: str, client_msg_id: str) -> None:
    # The check comes before the dedup lookup, as check_access came before the script:
    # a resend after the chat ended is refused, not answered with the stored message.
    store = RedisStore(connect_redis(redis_url, 4), prefix)
    try:
        await store.redis.hset(store.keys.conv(CID),  # type: ignore[misc]
                               mapping={"state": "active", "counsellor": "holder"})
        first = await store.append_message(CID, "youth", "", "youth", NOW * 1000, b"x",
                                           client_msg_id)
        assert not first.duplicate and first.recipients == ("holder",)
        again = await store.append_message(CID, "youth", "", "youth", NOW * 1000, b"x",
                                           client_msg_id)
        assert again.duplicate and again.envelope.seq == first.envelope.seq
        await store.redis.hset(store.keys.conv(CID), "state", "closed")
        with pytest.raises(SendRefused) as refused:
            await store.append_message(CID, "youth", "", "youth", NOW * 1000, b"x",
                                       client_msg_id)
        assert refused.value.status == "ended"
    finally:
        await store.redis.delete(store.keys.conv(CID), store.keys.msgs(CID),
                                 store.keys.dedup(CID))
        await store.close()
