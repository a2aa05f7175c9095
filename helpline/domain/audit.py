"""The audit log's rules: what an entry holds and how the hash chain links entries.

Every staff action on a conversation becomes one entry; no entry holds message
content. Entry n carries the hash of entry n-1, and its own hash covers its index,
time, actor, action, conversation, details and that previous hash, so editing,
deleting, inserting or reordering any entry breaks the chain at a findable place.

    hash(n) = SHA-256(canonical JSON of {i, at, actor, role, action, conversation_id,
                                          details, prev})
    prev(0) = 64 zeros
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

GENESIS = "0" * 64


class AuditAction(StrEnum):
    ACCEPT = "accept"
    REASSIGN = "reassign"
    END = "end"
    WRAPUP = "wrapup"
    HANDOVER_OFFER = "handover_offer"
    CONSENT_GIVEN = "consent_given"
    CONSENT_DECLINED = "consent_declined"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    POLICE_JOIN = "police_join"
    POLICE_LEAVE = "police_leave"
    POLICE_ENDED = "police_ended"
    EXPORT = "export"
    BLOCK = "block"
    PURGE = "purge"
    KEY_RETIRED = "key_retired"
    INVITE_CREATED = "invite_created"
    ACCOUNT_DISABLED = "account_disabled"


@dataclass(frozen=True)
class AuditEntry:
    i: int
    at: int  # ms since the epoch
    actor: str  # a staff username, or "youth" / "system"
    role: str
    action: str
    conversation_id: str | None
    details: dict[str, Any] = field(default_factory=dict)
    prev: str = GENESIS
    hash: str = ""

    def body(self) -> dict[str, Any]:
        return {"i": self.i, "at": self.at, "actor": self.actor, "role": self.role,
                "action": self.action, "conversation_id": self.conversation_id,
                "details": self.details, "prev": self.prev}

    def computed_hash(self) -> str:
        canonical = json.dumps(self.body(), sort_keys=True, separators=(",", ":"),
                               ensure_ascii=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def sealed(self) -> AuditEntry:
        return AuditEntry(**{**self.body(), "hash": self.computed_hash()})

    def to_json(self) -> str:
        return json.dumps({**self.body(), "hash": self.hash}, sort_keys=True,
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> AuditEntry:
        data = json.loads(text)
        return cls(**data)


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    entries: int
    first_broken: int | None = None  # position in the log of the first bad entry
    reason: str | None = None


def verify_chain(entries: list[AuditEntry]) -> ChainCheck:
    """Walk the chain; name the first entry whose index, link or hash is wrong."""
    prev = GENESIS
    for position, entry in enumerate(entries):
        if entry.i != position:
            return ChainCheck(False, len(entries), position,
                              f"entry at position {position} says it is number {entry.i}")
        if entry.prev != prev:
            return ChainCheck(False, len(entries), position,
                              f"entry {position} does not link to the entry before it")
        if entry.computed_hash() != entry.hash:
            return ChainCheck(False, len(entries), position,
                              f"entry {position} was changed after it was written")
        prev = entry.hash
    return ChainCheck(True, len(entries))
