"""The access check as a table: every actor kind x state x action."""

from __future__ import annotations

import itertools

import pytest

from helpline.domain.access import Action, StaffActor, YouthActor, check_access
from helpline.domain.conversation import UNANSWERED, Conversation, State
from helpline.domain.handover import Handover
from helpline.domain.ids import ConversationId, Username
from helpline.domain.roles import Role
from helpline.errors import Forbidden, HelplineError, InvalidState, NotFound

CID = ConversationId("C" * 22)
OTHER = ConversationId("D" * 22)

A, R, S, E, W, X = (Action.ACCEPT, Action.READ, Action.SEND, Action.END, Action.WRAPUP,
                    Action.REASSIGN)

# Expected outcome per (actor, state): a dict action -> "ok" | error class.
# "holder" is the counsellor the conversation is assigned to (none while queued).
OK = "ok"


def expected(actor: str, state: State, action: Action) -> object:
    staff_roles = {"holder": Role.COUNSELLOR, "counsellor": Role.COUNSELLOR,
                   "supervisor": Role.SUPERVISOR, "police": Role.POLICE, "admin": Role.ADMIN}
    if actor == "youth":
        if action in (R,):
            return OK
        if action in (S, E):
            return OK if state in (State.INTAKE, State.OFFLINE, State.QUEUED,
                                   State.ACTIVE) else InvalidState
        return Forbidden
    if actor == "other_youth":
        return NotFound if action in (R, S, E) else Forbidden
    role = staff_roles[actor]
    if action is X:
        if role is not Role.SUPERVISOR:
            return Forbidden
        return OK if state is State.ACTIVE else InvalidState
    if role is Role.POLICE:
        # Not joined to any of these conversations: they do not exist for police.
        return NotFound if action in (R, S) else Forbidden
    if role not in (Role.COUNSELLOR, Role.SUPERVISOR):
        return Forbidden
    if action is A:
        return OK if state is State.QUEUED else InvalidState
    holds = actor == "holder" and state not in UNANSWERED
    if not holds:
        return NotFound
    if action is R:
        return OK
    if action in (S, E):
        return OK if state is State.ACTIVE else InvalidState
    if action is W:
        return OK if state in (State.ACTIVE, State.ENDED) else InvalidState
    raise AssertionError


ACTORS = ["youth", "other_youth", "holder", "counsellor", "supervisor", "police", "admin"]


def make_actor(name: str) -> YouthActor | StaffActor:
    if name == "youth":
        return YouthActor(CID)
    if name == "other_youth":
        return YouthActor(OTHER)
    role = {"holder": Role.COUNSELLOR, "counsellor": Role.COUNSELLOR,
            "supervisor": Role.SUPERVISOR, "police": Role.POLICE, "admin": Role.ADMIN}[name]
    return StaffActor(Username(name), role)


@pytest.mark.parametrize(("actor", "state", "action"),
                         list(itertools.product(ACTORS, list(State), list(Action))))
def test_access_table(actor: str, state: State, action: Action) -> None:
    conv = Conversation(id=CID, state=state, created_at=0, queued_at=0, last_seq=0,
                        counsellor=None if state in UNANSWERED else Username("holder"))
    want = expected(actor, state, action)
    if want == OK:
        check_access(make_actor(actor), conv, action)
    else:
        assert isinstance(want, type) and issubclass(want, HelplineError)
        with pytest.raises(want):
            check_access(make_actor(actor), conv, action)


@pytest.mark.parametrize("actor", ACTORS)
def test_missing_conversation_is_not_found_for_everyone_allowed_to_ask(actor: str) -> None:
    for action in (R, S, E, W):
        want: type[HelplineError] = NotFound
        role = getattr(make_actor(actor), "role", None)
        if role is Role.ADMIN or (role is Role.POLICE and action in (E, W)):
            want = Forbidden
        if actor in ("youth", "other_youth") and action is W:
            want = Forbidden
        with pytest.raises(want):
            check_access(make_actor(actor), None, action)


NOW = 1_800_000_000


@pytest.mark.parametrize("handover", list(Handover))
@pytest.mark.parametrize("state", [State.ACTIVE, State.ENDED])
def test_police_reach_only_the_conversation_they_joined(handover: Handover,
                                                        state: State) -> None:
    conv = Conversation(id=CID, state=state, created_at=0, queued_at=0, last_seq=0,
                        counsellor=Username("holder"), handover=handover,
                        police_officer=Username("officer"), police_expires=NOW + 60)
    officer = StaffActor(Username("officer"), Role.POLICE)
    colleague = StaffActor(Username("colleague"), Role.POLICE)
    with pytest.raises(NotFound):
        check_access(colleague, conv, Action.READ, now=NOW)
    if handover is not Handover.JOINED:
        for action in (Action.READ, Action.SEND):
            with pytest.raises(NotFound):
                check_access(officer, conv, action, now=NOW)
        return
    check_access(officer, conv, Action.READ, now=NOW)
    if state is State.ACTIVE:
        check_access(officer, conv, Action.SEND, now=NOW)
    else:
        with pytest.raises(InvalidState):
            check_access(officer, conv, Action.SEND, now=NOW)
    for action in (Action.END, Action.WRAPUP, Action.ACCEPT, Action.REASSIGN):
        with pytest.raises(Forbidden):
            check_access(officer, conv, action, now=NOW)
    # The consent's expiry ends it, and a check without a time fails closed.
    for at in (NOW + 60, NOW + 61):
        with pytest.raises(NotFound):
            check_access(officer, conv, Action.READ, now=at)
    with pytest.raises(NotFound):
        check_access(officer, conv, Action.READ)
