"""The conversation: its states, the moves between them, and its public summary.

    queued ──accept──> active ──end──> ended ──wrap-up──> closed
       │                  └────────wrap-up (ends it too)────^
       └──end (young person leaves before anyone answered)──> closed

Storage enforces each move atomically (a Lua script checks the state it expects);
this module names the moves and says which states allow what, so that rules live in
one readable place and the storage layer only checks what it is told.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from helpline.domain.handover import Handover
from helpline.domain.ids import ConversationId, Username


class State(StrEnum):
    INTAKE = "intake"  # talking with the automatic intake assistant
    OFFLINE = "offline"  # left outside opening hours; queued when the helpline opens
    QUEUED = "queued"
    ACTIVE = "active"
    ENDED = "ended"
    CLOSED = "closed"


# States in which the chat is open for messages and typing.
CHAT_OPEN = frozenset({State.INTAKE, State.OFFLINE, State.QUEUED, State.ACTIVE})
# States in which nobody has answered yet (ending closes at once).
UNANSWERED = frozenset({State.INTAKE, State.OFFLINE, State.QUEUED})
# States a counsellor can still file a wrap-up from.
WRAPUP_FROM = frozenset({State.ACTIVE, State.ENDED})


def state_after_end(state: State) -> State:
    """Ending an unanswered conversation closes it; an answered one awaits wrap-up."""
    return State.CLOSED if state in UNANSWERED else State.ENDED


@dataclass(frozen=True)
class Conversation:
    """What the server knows about a conversation: metadata only, never content."""

    id: ConversationId
    state: State
    created_at: int
    queued_at: int
    last_seq: int
    language: str | None = None
    counsellor: Username | None = None
    accepted_at: int | None = None
    ended_at: int | None = None
    ended_by: str | None = None
    closed_at: int | None = None
    handover: Handover = Handover.NONE
    police_officer: Username | None = None
    police_share_history: bool = False
    police_epoch: int | None = None  # the first epoch wrapped for the police
    police_from_seq: int | None = None  # the first message the police may read
    police_expires: int | None = None  # consent expiry, Unix seconds
    police_consent: str | None = None  # the recorded consent, JSON of its transport form
    urgent: bool = False
    age_band: str | None = None  # from the intake, a closed list
    form_hint: str | None = None  # the young person's own choice of topic
    intake_step: str | None = None
    invited_by: Username | None = None
    campaign: str | None = None  # the outreach campaign code the widget was opened with

    def summary(self, now_ms: int) -> dict[str, object]:
        """The wire form staff see: state, timing, counsellor; no content."""
        waiting_since = self.queued_at if self.state in (State.QUEUED, State.OFFLINE) else None
        return {
            "conversation_id": self.id,
            "state": self.state.value,
            "language": self.language,
            "counsellor": self.counsellor,
            "created_at": self.created_at,
            "queued_at": self.queued_at,
            "accepted_at": self.accepted_at,
            "waiting_ms": (now_ms - waiting_since) if waiting_since is not None else None,
            "last_seq": self.last_seq,
            "handover": self.handover.value,
            "police_officer": self.police_officer,
            "urgent": self.urgent,
            "age_band": self.age_band,
            "form_hint": self.form_hint,
            "campaign": self.campaign,
            "police_from_seq": self.police_from_seq,
        }
