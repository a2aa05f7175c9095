"""The message envelope: what the server relays and stores, blind to its content."""

from __future__ import annotations

from dataclasses import dataclass

from helpline.domain.ids import ConversationId


@dataclass(frozen=True)
class Envelope:
    conversation_id: ConversationId
    seq: int  # gap-free per conversation, starting at 1, assigned by the server
    sender_role: str
    sent_at: int  # server time, milliseconds since the epoch
    body: bytes  # opaque: end-to-end encrypted by the clients

    def to_wire(self) -> dict[str, object]:
        return {
            "conversation_id": self.conversation_id,
            "seq": self.seq,
            "sender_role": self.sender_role,
            "sent_at": self.sent_at,
            "body": self.body,
        }


@dataclass(frozen=True)
class Appended:
    """The result of storing a message; `duplicate` when a resend was recognised.

    `recipients` are the staff to deliver to, as they were at the moment of storing;
    `youth_connections` how many connections the young person has open on it (at
    least; it can be too high after a server process died, never too low).
    """

    envelope: Envelope
    duplicate: bool
    recipients: tuple[str, ...] = ()
    youth_connections: int = 1
