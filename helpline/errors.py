"""The error tree: every refusal the server can give, each with a stable code.

Errors are raised anywhere below the transport layer and turned into an ack
`{"error": {"code", "message"}}`, an HTTP status, or a refused connection only at
the edge (`helpline.transport`). Codes are part of the protocol (docs/protocol.md):
never rename one.

    HelplineError                  internal_error   (unexpected; logged without content)
    ├── InvalidPayload             invalid_payload  (wrong shape, type or unknown field)
    ├── TooLarge                   too_large        (a field or frame over its limit)
    ├── UnknownEvent               unknown_event    (no such event in this namespace)
    ├── Unauthorized               unauthorized     (no, wrong or expired credentials)
    ├── RateLimited                rate_limited     (too many attempts; retry later)
    ├── Forbidden                  forbidden        (your role may not do this)
    ├── NotFound                   not_found        (no such thing, or not yours: same code)
    ├── InvalidState               invalid_state    (not possible in the current state)
    ├── AlreadyTaken               already_taken    (another counsellor accepted first)
    ├── CapacityReached            capacity_reached (you hold the maximum of conversations)
    ├── NoConversation             no_conversation  (this connection has no conversation yet)
    ├── AlreadyOpen                already_open     (this connection has a conversation)
    ├── Conflict                   conflict         (a name or thing that already exists)
    ├── ConsentInvalid             consent_invalid  (not signed by this conversation's key,
    │                                                for another conversation or police key)
    ├── ConsentExpired             consent_expired  (past its expiry, or too far ahead)
    ├── ConsentReplayed            consent_replayed (this consent was used before)
    ├── EpochInvalid               epoch_invalid    (the epoch statement does not verify or
    │                                                does not match the wraps)
    ├── InviteInvalid              invite_invalid   (no such invite)
    ├── InviteExpired              invite_expired   (the invite's time is over)
    ├── InviteUsed                 invite_used      (the invite was used already)
    ├── Reserved                   reserved         (kept for a counsellor speaking its language)
    ├── OwnAccount                 own_account      (an admin may not disable or demote themselves)
    └── Unavailable                unavailable      (a dependency such as Redis is down)
"""

from __future__ import annotations

from typing import Any, ClassVar


class HelplineError(Exception):
    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "Something went wrong on our side. Please try again."
    http_status: ClassVar[int] = 500

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def to_wire(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


class InvalidPayload(HelplineError):
    code = "invalid_payload"
    default_message = "The request is not in the expected form."
    http_status = 400


class TooLarge(HelplineError):
    code = "too_large"
    default_message = "The request is too large."
    http_status = 413


class UnknownEvent(HelplineError):
    code = "unknown_event"
    default_message = "There is no such event."
    http_status = 404


class Unauthorized(HelplineError):
    code = "unauthorized"
    default_message = "Please sign in again."
    http_status = 401


class RateLimited(HelplineError):
    code = "rate_limited"
    default_message = "Too many attempts. Please wait a while and try again."
    http_status = 429


class Forbidden(HelplineError):
    code = "forbidden"
    default_message = "Your role may not do this."
    http_status = 403


class NotFound(HelplineError):
    code = "not_found"
    default_message = "No such conversation, or it is not yours."
    http_status = 404


class InvalidState(HelplineError):
    code = "invalid_state"
    default_message = "This is not possible in the conversation's current state."
    http_status = 409


class AlreadyTaken(HelplineError):
    code = "already_taken"
    default_message = "Another counsellor has already accepted this conversation."
    http_status = 409


class CapacityReached(HelplineError):
    code = "capacity_reached"
    default_message = "You already hold the maximum number of conversations."
    http_status = 409


class NoConversation(HelplineError):
    code = "no_conversation"
    default_message = "Open or resume a conversation first."
    http_status = 409


class AlreadyOpen(HelplineError):
    code = "already_open"
    default_message = "This connection already has a conversation."
    http_status = 409


class Conflict(HelplineError):
    code = "conflict"
    default_message = "That already exists."
    http_status = 409


class ConsentInvalid(HelplineError):
    code = "consent_invalid"
    default_message = "This consent is not valid for this conversation."
    http_status = 403


class ConsentExpired(HelplineError):
    code = "consent_expired"
    default_message = "This consent has expired."
    http_status = 403


class ConsentReplayed(HelplineError):
    code = "consent_replayed"
    default_message = "This consent was already used."
    http_status = 409


class EpochInvalid(HelplineError):
    code = "epoch_invalid"
    default_message = ("The epoch statement is not signed by this conversation's key, "
                       "or names other readers than the wraps.")
    http_status = 400


class InviteInvalid(HelplineError):
    code = "invite_invalid"
    default_message = "This invite code is not known. Check it, or chat without it."
    http_status = 404


class InviteExpired(HelplineError):
    code = "invite_expired"
    default_message = "This invite has expired. You can still chat with us without it."
    http_status = 410


class InviteUsed(HelplineError):
    code = "invite_used"
    default_message = "This invite was used already. You can still chat with us without it."
    http_status = 409


class Reserved(HelplineError):
    code = "reserved"
    default_message = ("This conversation is first offered to a counsellor who speaks its "
                       "language. Try again in a minute.")
    http_status = 409


class OwnAccount(HelplineError):
    code = "own_account"
    default_message = ("You cannot disable your own account or take away your own admin"
                       " role: ask another admin.")
    http_status = 409


class Unavailable(HelplineError):
    code = "unavailable"
    default_message = "The service is briefly unavailable. Please try again."
    http_status = 503


ALL_ERRORS: tuple[type[HelplineError], ...] = (
    HelplineError,
    InvalidPayload,
    TooLarge,
    UnknownEvent,
    Unauthorized,
    RateLimited,
    Forbidden,
    NotFound,
    InvalidState,
    AlreadyTaken,
    CapacityReached,
    NoConversation,
    AlreadyOpen,
    Conflict,
    ConsentInvalid,
    ConsentExpired,
    ConsentReplayed,
    InviteInvalid,
    InviteExpired,
    InviteUsed,
    Reserved,
    OwnAccount,
    Unavailable,
)
