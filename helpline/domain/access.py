"""The one access check: may this actor do this action on this conversation?

`check_access` is the choke point every conversation action passes through. It gives
the same `NotFound` for "does not exist" and "not yours", so that nobody can probe
which conversations exist. One condition per line, tested as a table of every
role x state x action (tests/test_access.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from helpline.domain.conversation import CHAT_OPEN, WRAPUP_FROM, Conversation, State
from helpline.domain.handover import Handover, consent_lapsed
from helpline.domain.ids import ConversationId, Username
from helpline.domain.roles import CHAT_ROLES, Role
from helpline.errors import Forbidden, InvalidState, NotFound


class Action(StrEnum):
    READ = "read"  # history and summary
    SEND = "send"  # messages and typing
    END = "end"
    ACCEPT = "accept"
    WRAPUP = "wrapup"
    REASSIGN = "reassign"


YOUTH_ACTIONS = frozenset({Action.READ, Action.SEND, Action.END})
POLICE_ACTIONS = frozenset({Action.READ, Action.SEND})


@dataclass(frozen=True)
class YouthActor:
    conversation_id: ConversationId


@dataclass(frozen=True)
class StaffActor:
    username: Username
    role: Role


Actor = YouthActor | StaffActor


def check_access(actor: Actor, conversation: Conversation | None, action: Action, *,
                 now: int | None = None) -> None:
    """Raise unless `actor` may do `action` on `conversation` (None: does not exist).

    `now` (Unix seconds) is needed for the police, whose access ends with the
    consent; an officer's check without it fails closed.
    """
    # A role that may never do this is told so first: it reveals nothing about the
    # conversation, and keeps "forbidden" meaning the same whatever the id.
    if not _kind_may(actor, action):
        raise Forbidden()
    if conversation is None:
        raise NotFound()
    if isinstance(actor, YouthActor):
        _check_youth(actor, conversation, action)
    elif actor.role is Role.POLICE:
        _check_police(actor, conversation, action, now)
    else:
        _check_staff(actor, conversation, action)


def _kind_may(actor: Actor, action: Action) -> bool:
    if isinstance(actor, YouthActor):
        return action in YOUTH_ACTIONS
    if action is Action.REASSIGN:
        return actor.role is Role.SUPERVISOR
    if actor.role is Role.POLICE:
        return action in POLICE_ACTIONS
    return actor.role in CHAT_ROLES


def _check_youth(actor: YouthActor, conv: Conversation, action: Action) -> None:
    if actor.conversation_id != conv.id:
        raise NotFound()
    if action is Action.READ:
        return
    if conv.state not in CHAT_OPEN:  # SEND or END
        raise InvalidState("This conversation has ended.")


def _check_staff(actor: StaffActor, conv: Conversation, action: Action) -> None:
    holds = conv.counsellor == actor.username
    if action is Action.ACCEPT:
        if conv.state is not State.QUEUED:
            # Someone else won the race (or the young person left): say so plainly.
            raise InvalidState("This conversation is no longer waiting.")
        return
    if action is Action.REASSIGN:
        if conv.state is not State.ACTIVE:
            raise InvalidState("Only an active conversation can be reassigned.")
        return
    # Supervisors see summaries of every conversation (overview), never its messages:
    # reading or writing needs holding it.
    if not holds:
        raise NotFound()
    if action is Action.READ:
        return
    if action in (Action.SEND, Action.END):
        if conv.state is not State.ACTIVE:
            raise InvalidState("This conversation is not active.")
        return
    if action is Action.WRAPUP:
        if conv.state not in WRAPUP_FROM:
            raise InvalidState("This conversation is already closed.")
        return
    raise Forbidden()


def _check_police(actor: StaffActor, conv: Conversation, action: Action,
                  now: int | None) -> None:
    # An officer reaches a conversation only while joined to it, after the young
    # person's consent and before it expires; before, after, or for anyone else it
    # does not exist.
    if conv.handover is not Handover.JOINED:
        raise NotFound()
    if conv.police_officer != actor.username:
        raise NotFound()
    if now is None or consent_lapsed(conv.handover, conv.police_expires, now):
        raise NotFound()
    if action is Action.SEND and conv.state is not State.ACTIVE:
        raise InvalidState("This conversation is not active.")
