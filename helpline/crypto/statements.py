"""Signed key statements: which X25519 public keys a client may encrypt to.

The organisation's offline Ed25519 signing key signs, per period, "this X25519
public key is the team key for period P, valid not_before..not_after", and
"this X25519 public key is the key of police unit U, valid ...". The widget's
embed snippet pins the signing key's fingerprint, so a server that offers
another key is caught before anything is encrypted to it.

Signed bytes (times are Unix seconds; the window is inclusive at both ends):

    encode_fields(LABEL_STATEMENT_TEAM_KEY or LABEL_STATEMENT_POLICE_KEY,
                  subject (ASCII period or unit id), public key (32 raw bytes),
                  u64be(not_before), u64be(not_after))

Transport form (JSON; never signed itself, the signature covers the bytes above):

    {"v": 2, "kind": "team-key" | "police-key", "subject": str,
     "public_key": b64url, "not_before": int, "not_after": int,
     "signer": b64url (raw Ed25519 public key), "signature": b64url}
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from helpline.crypto.constants import (
    LABEL_STATEMENT_POLICE_KEY,
    LABEL_STATEMENT_TEAM_KEY,
    MAX_JSON_INT,
    PROTOCOL_VERSION,
    SIGNATURE_BYTES,
)
from helpline.crypto.encoding import (
    b64url_decode,
    b64url_encode,
    encode_fields,
    identifier_bytes,
    uint_be,
)
from helpline.crypto.errors import (
    EncodingError,
    StatementNotValid,
    UnsupportedVersion,
    UntrustedSigner,
    WrongStatementKind,
)
from helpline.crypto.keys import (
    EncryptionPublicKey,
    SigningKeyPair,
    SigningPublicKey,
    parse_fingerprint,
    verify_signature,
)


class StatementKind(StrEnum):
    TEAM_KEY = "team-key"
    POLICE_KEY = "police-key"


_LABELS = {
    StatementKind.TEAM_KEY: LABEL_STATEMENT_TEAM_KEY,
    StatementKind.POLICE_KEY: LABEL_STATEMENT_POLICE_KEY,
}

_JSON_FIELDS = frozenset(
    {"v", "kind", "subject", "public_key", "not_before", "not_after", "signer", "signature"}
)


def _check_time(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_JSON_INT:
        raise EncodingError(f"{what} must be an integer from 0 to 2**53 - 1")


@dataclass(frozen=True)
class KeyStatement:
    """What the organisation vouches for: `public_key` is the `kind` key of `subject`."""

    kind: StatementKind
    subject: str  # the period for a team key (e.g. "2025-W47"), the unit for police
    public_key: EncryptionPublicKey
    not_before: int
    not_after: int

    def __post_init__(self) -> None:
        if not isinstance(self.kind, StatementKind):
            raise EncodingError("unknown statement kind")
        identifier_bytes(self.subject, "statement subject")
        _check_time(self.not_before, "not_before")
        _check_time(self.not_after, "not_after")
        if self.not_before > self.not_after:
            raise EncodingError("not_before is after not_after")

    def signed_bytes(self) -> bytes:
        """The exact bytes the organisation signs."""
        return encode_fields(
            _LABELS[self.kind],
            identifier_bytes(self.subject, "statement subject"),
            self.public_key.raw,
            uint_be(self.not_before, 8),
            uint_be(self.not_after, 8),
        )

    def is_valid_at(self, at: int) -> bool:
        return self.not_before <= at <= self.not_after


@dataclass(frozen=True)
class SignedKeyStatement:
    statement: KeyStatement
    signer: SigningPublicKey
    signature: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_BYTES:
            raise EncodingError(f"a signature is {SIGNATURE_BYTES} bytes")


def sign_key_statement(statement: KeyStatement, signing_key: SigningKeyPair) -> SignedKeyStatement:
    """Sign with the organisation's key (done offline, by the `keys` tool)."""
    return SignedKeyStatement(
        statement=statement,
        signer=signing_key.public,
        signature=signing_key.sign(statement.signed_bytes()),
    )


def verify_key_statement(
    signed: SignedKeyStatement,
    *,
    pinned_fingerprint: str,
    kind: StatementKind,
    at: int | None,
) -> KeyStatement:
    """Return the statement if it is of `kind`, signed by the pinned key and valid.

    `at` is the time (Unix seconds) the key is to be used; pass None only to read
    old transcripts, where an expired team key is still the right key.
    Raises WrongStatementKind, UntrustedSigner, BadSignature or StatementNotValid.
    """
    statement = signed.statement
    if statement.kind != kind:
        raise WrongStatementKind(f"expected a {kind} statement, got {statement.kind}")
    pinned = parse_fingerprint(pinned_fingerprint)
    if not hmac.compare_digest(signed.signer.fingerprint_digest, pinned):
        raise UntrustedSigner()
    verify_signature(signed.signer, signed.signature, statement.signed_bytes())
    if at is not None and not statement.is_valid_at(at):
        raise StatementNotValid(
            f"valid from {statement.not_before} to {statement.not_after}, not at {at}"
        )
    return statement


def key_statement_to_dict(signed: SignedKeyStatement) -> dict[str, object]:
    """The JSON-ready transport form (see the module docstring)."""
    statement = signed.statement
    return {
        "v": PROTOCOL_VERSION,
        "kind": statement.kind.value,
        "subject": statement.subject,
        "public_key": b64url_encode(statement.public_key.raw),
        "not_before": statement.not_before,
        "not_after": statement.not_after,
        "signer": b64url_encode(signed.signer.raw),
        "signature": b64url_encode(signed.signature),
    }


def key_statement_from_dict(data: Mapping[str, object]) -> SignedKeyStatement:
    """Parse the transport form strictly: exact field set, exact types."""
    if not isinstance(data, Mapping) or set(data) != _JSON_FIELDS:
        raise EncodingError(f"a key statement has exactly the fields {sorted(_JSON_FIELDS)}")
    version = data["v"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise EncodingError("v must be an integer")
    if version != PROTOCOL_VERSION:
        raise UnsupportedVersion(f"key statement version {version}")
    kind, subject = data["kind"], data["subject"]
    not_before, not_after = data["not_before"], data["not_after"]
    if not isinstance(kind, str) or kind not in {k.value for k in StatementKind}:
        raise EncodingError("unknown statement kind")
    if not isinstance(subject, str):
        raise EncodingError("subject must be a string")
    if not isinstance(not_before, int) or not isinstance(not_after, int):
        raise EncodingError("not_before and not_after must be integers")
    return SignedKeyStatement(
        statement=KeyStatement(
            kind=StatementKind(kind),
            subject=subject,
            public_key=EncryptionPublicKey(_b64_field(data, "public_key")),
            not_before=not_before,
            not_after=not_after,
        ),
        signer=SigningPublicKey(_b64_field(data, "signer")),
        signature=_b64_field(data, "signature"),
    )


def key_statement_to_json(signed: SignedKeyStatement) -> str:
    return json.dumps(key_statement_to_dict(signed), separators=(",", ":"), sort_keys=True)


def key_statement_from_json(text: str) -> SignedKeyStatement:
    try:
        data = json.loads(text)
    except (ValueError, TypeError) as exc:
        raise EncodingError("a key statement must be a JSON object") from exc
    if not isinstance(data, dict):
        raise EncodingError("a key statement must be a JSON object")
    return key_statement_from_dict(data)


def _b64_field(data: Mapping[str, object], name: str) -> bytes:
    value = data[name]
    if not isinstance(value, str):
        raise EncodingError(f"{name} must be base64url text")
    return b64url_decode(value)
