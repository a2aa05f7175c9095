"""The audit log's rules: what an entry holds, how the hash chain links entries, and
the signed checkpoints that anchor the chain outside Redis.

Every staff action on a conversation, every key and account action and every staff
read becomes one entry; no entry holds message content, an address or a user agent.
Entry n carries the hash of entry n-1, and its own hash covers its index, time, actor,
action, conversation, details and that previous hash, so editing, deleting, inserting
or reordering any entry breaks the chain at a findable place.

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

from helpline.crypto.encoding import (
    b64url_decode,
    b64url_encode,
    encode_fields,
    hex_decode,
    uint_be,
)
from helpline.crypto.errors import CryptoError
from helpline.crypto.keys import SigningKeyPair, SigningPublicKey, verify_signature

GENESIS = "0" * 64
_ENTRY_FIELDS = frozenset({"i", "at", "actor", "role", "action", "conversation_id",
                           "details", "prev", "hash"})


class AuditAction(StrEnum):
    ACCEPT = "accept"
    REASSIGN = "reassign"
    END = "end"
    WRAPUP = "wrapup"
    HANDOVER_OFFER = "handover_offer"
    CONSENT_GIVEN = "consent_given"
    CONSENT_DECLINED = "consent_declined"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    CONSENT_EXPIRED = "consent_expired"
    POLICE_JOIN = "police_join"
    POLICE_LEAVE = "police_leave"
    POLICE_ENDED = "police_ended"
    EXPORT = "export"
    BLOCK = "block"
    PURGE = "purge"
    # A supervisor's or admin's "delete now" of a conversation (due at the next purge).
    DELETE_NOW = "delete_now"
    KEY_RETIRED = "key_retired"
    INVITE_CREATED = "invite_created"
    ACCOUNT_DISABLED = "account_disabled"
    # Key and account actions (issue 10, finding 6): every change of who can read.
    KEYS_INIT = "keys_init"
    KEYS_ROTATE = "keys_rotate"
    KEYS_GRANT = "keys_grant"
    KEYS_PUBLISH = "keys_publish"
    KEYS_REVOKE = "keys_revoke"
    DEVICE_APPROVED = "device_approved"
    POLICE_KEY_IMPORTED = "police_key_imported"
    DEVICE_REGISTERED = "device_registered"
    ACCOUNT_ADDED = "account_added"
    ACCOUNT_CHANGED = "account_changed"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - an action name
    LOGIN = "login"
    LOGOUT = "logout"
    # The team's tools in the console (supervisor, admin): texts, directory, hours.
    CANNED_UPDATED = "canned_updated"
    CANNED_RESET = "canned_reset"
    REFERRALS_UPDATED = "referrals_updated"
    REFERRALS_RESET = "referrals_reset"
    HOURS_CHANGED = "hours_changed"
    HOURS_RESET = "hours_reset"
    # Staff reads: who looked at a conversation or at the helpline's records.
    READ_HISTORY = "read_history"
    READ_KEYS = "read_keys"
    READ_STATS = "read_stats"
    READ_AUDIT = "read_audit"


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
        """Parse a stored entry; ValueError if it is not an entry at all."""
        data = json.loads(text)
        if not isinstance(data, dict) or set(data) != _ENTRY_FIELDS:
            raise ValueError("not an audit entry")
        return cls(**data)


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    entries: int
    first_broken: int | None = None  # position in the log of the first bad entry
    reason: str | None = None
    # Stable code of what is wrong: chain_broken, chain_truncated, checkpoint_invalid,
    # checkpoint_mismatch (None when ok).
    code: str | None = None
    checkpoint: int | None = None  # 1-based line of the first checkpoint that disagrees
    checkpoints: int = 0  # checkpoints checked
    anchored: int = 0  # entries covered by the newest checkpoint (the rest is the window)


def verify_chain(entries: list[AuditEntry], start: int = 0, prev: str = GENESIS
                 ) -> ChainCheck:
    """Walk the chain; name the first entry whose index, link or hash is wrong.

    `start` and `prev`: check a stretch that begins at entry `start` and links to
    `prev` (the checkpoint job checks only what was added since the last checkpoint).
    """
    for position, entry in enumerate(entries, start=start):
        if entry.i != position:
            return ChainCheck(False, len(entries), position,
                              f"entry at position {position} says it is number {entry.i}",
                              code="chain_broken")
        if entry.prev != prev:
            return ChainCheck(False, len(entries), position,
                              f"entry {position} does not link to the entry before it",
                              code="chain_broken")
        if entry.computed_hash() != entry.hash:
            return ChainCheck(False, len(entries), position,
                              f"entry {position} was changed after it was written",
                              code="chain_broken")
        prev = entry.hash
    return ChainCheck(True, start + len(entries))


# -- signed checkpoints -----------------------------------------------------------------
#
# The chain and its head live in Redis, so a Redis writer could rewrite the whole chain
# consistently. A checkpoint pins "after N entries the head was H" with a signature by
# an audit key that lives in a file outside Redis; the checkpoints are kept in a file
# outside Redis too. A rewritten or truncated chain then disagrees with a checkpoint.
#
#     message = encode_fields("helpline/v2/audit-checkpoint",
#                             u64be(count), head (32 bytes), u64be(unix seconds))
#     line    = {"v": 2, "count": N, "head": hex, "at": unix seconds,
#                "key": audit key fingerprint, "signature": base64url(Ed25519(message))}

LABEL_AUDIT_CHECKPOINT = b"helpline/v2/audit-checkpoint"
CHECKPOINT_VERSION = 2
_CHECKPOINT_FIELDS = frozenset({"v", "count", "head", "at", "key", "signature"})


class CheckpointInvalid(ValueError):
    """A checkpoint line is malformed, of another version, or its signature is wrong."""

    code = "checkpoint_invalid"


@dataclass(frozen=True)
class Checkpoint:
    count: int  # entries covered: entry count-1 is the head
    head: str  # hex SHA-256 of entry count-1
    at: int  # unix seconds when it was signed
    key: str  # fingerprint of the audit signing key (to tell keys apart, not trusted)
    signature: str  # base64url Ed25519 over checkpoint_message()

    def to_json(self) -> str:
        return json.dumps({"v": CHECKPOINT_VERSION, "count": self.count, "head": self.head,
                           "at": self.at, "key": self.key, "signature": self.signature},
                          sort_keys=True, separators=(",", ":"))


def checkpoint_message(count: int, head: str, at: int) -> bytes:
    """The signed bytes (docs/security.md, "The audit log")."""
    return encode_fields(LABEL_AUDIT_CHECKPOINT, uint_be(count, 8), hex_decode(head, 32),
                         uint_be(at, 8))


def sign_checkpoint(key: SigningKeyPair, count: int, head: str, at: int) -> Checkpoint:
    signature = b64url_encode(key.sign(checkpoint_message(count, head, at)))
    return Checkpoint(count, head, at, key.public.fingerprint, signature)


def parse_checkpoint(text: str, public_key: SigningPublicKey) -> Checkpoint:
    """One checkpoint line, strictly: exact fields and types, version 2, good signature."""
    try:
        data = json.loads(text)
    except ValueError:
        raise CheckpointInvalid("not JSON") from None
    if not isinstance(data, dict) or set(data) != _CHECKPOINT_FIELDS:
        raise CheckpointInvalid("wrong fields")
    if data["v"] != CHECKPOINT_VERSION or isinstance(data["v"], bool):
        raise CheckpointInvalid(f"version {data['v']!r}, expected {CHECKPOINT_VERSION}")
    count, head, at = data["count"], data["head"], data["at"]
    for name, value in (("count", count), ("at", at)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
            raise CheckpointInvalid(f"{name} must be a positive whole number")
    if not isinstance(data["key"], str) or not isinstance(data["signature"], str):
        raise CheckpointInvalid("key and signature must be text")
    try:
        message = checkpoint_message(count, head, at)
        verify_signature(public_key, b64url_decode(data["signature"]), message)
    except CryptoError as exc:
        raise CheckpointInvalid(f"signature does not verify ({exc.code})") from None
    return Checkpoint(count, head, at, data["key"], data["signature"])


def check_checkpoints(entries: list[AuditEntry], lines: list[str],
                      public_key: SigningPublicKey) -> ChainCheck:
    """Every checkpoint verifies and matches the chain; name the first that does not.

    Run after verify_chain passed, so the entries link up among themselves; a chain a
    Redis writer rewrote or cut short still disagrees with a checkpoint made before.
    """
    anchored = 0
    for number, line in enumerate(lines, start=1):
        try:
            point = parse_checkpoint(line, public_key)
        except CheckpointInvalid as exc:
            return ChainCheck(False, len(entries), None,
                              f"checkpoint {number} is invalid: {exc}",
                              code=CheckpointInvalid.code, checkpoint=number)
        if point.count > len(entries):
            return ChainCheck(False, len(entries), len(entries),
                              f"checkpoint {number} (signed at {point.at}) covers "
                              f"{point.count} entries, but the log has only {len(entries)}: "
                              "it was truncated", code="chain_truncated", checkpoint=number)
        if entries[point.count - 1].hash != point.head:
            return ChainCheck(False, len(entries), point.count - 1,
                              f"checkpoint {number} (signed at {point.at}) disagrees with "
                              f"entry {point.count - 1}: the log was rewritten",
                              code="checkpoint_mismatch", checkpoint=number)
        anchored = max(anchored, point.count)
    return ChainCheck(True, len(entries), checkpoints=len(lines), anchored=anchored)
