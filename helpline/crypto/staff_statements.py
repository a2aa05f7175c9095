"""Signed staff key statements: which signing key speaks for which staff member.

Message signatures only stop one reader forging another's message if every reader
knows each sender's signing key authentically. The server hands keys out, so the
organisation's offline signing key vouches for them: when `helpline keys grant`
grants a staff member the team (or police) key, it also signs "staff member NAME,
in ROLE, signs with key S and receives grants on key E, valid not_before..not_after".
A young person's client checks this against the pinned fingerprint before it
accepts a counsellor's or officer's messages, and checks each message's `sent_at`
against the window and the organisation's revocation list (revocation.py): the
window is bounded (`HELPLINE_STAFF_STATEMENT_DAYS`, default 90; `keys grant` renews).

Signed bytes (times are Unix seconds; the window is inclusive at both ends):

    encode_fields(LABEL_STATEMENT_STAFF_KEY, subject (ASCII username), role (ASCII),
                  signing key (32 raw Ed25519 bytes), encryption key (32 raw X25519 bytes),
                  u64be(not_before), u64be(not_after))

Transport form (JSON; the signature covers the bytes above):

    {"v": 2, "kind": "staff-key", "subject": str, "role": str, "signing_key": b64url,
     "encryption_key": b64url, "not_before": int, "not_after": int,
     "signer": b64url, "signature": b64url}
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from helpline.crypto.constants import LABEL_STATEMENT_STAFF_KEY, PROTOCOL_VERSION, SIGNATURE_BYTES
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
)
from helpline.crypto.keys import (
    EncryptionPublicKey,
    SigningKeyPair,
    SigningPublicKey,
    parse_fingerprint,
    verify_signature,
)

KIND = "staff-key"
ROLES = frozenset({"counsellor", "supervisor", "police", "admin"})
_FIELDS = frozenset({"v", "kind", "subject", "role", "signing_key", "encryption_key",
                     "not_before", "not_after", "signer", "signature"})


@dataclass(frozen=True)
class StaffKeyStatement:
    subject: str  # the username
    role: str
    signing_key: SigningPublicKey
    encryption_key: EncryptionPublicKey
    not_before: int
    not_after: int

    def __post_init__(self) -> None:
        identifier_bytes(self.subject, "staff name")
        if self.role not in ROLES:
            raise EncodingError("unknown staff role")
        for value in (self.not_before, self.not_after):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise EncodingError("times must be non-negative integers")
        if self.not_before > self.not_after:
            raise EncodingError("not_before is after not_after")

    def signed_bytes(self) -> bytes:
        return encode_fields(
            LABEL_STATEMENT_STAFF_KEY,
            identifier_bytes(self.subject, "staff name"),
            self.role.encode("ascii"),
            self.signing_key.raw,
            self.encryption_key.raw,
            uint_be(self.not_before, 8),
            uint_be(self.not_after, 8),
        )


@dataclass(frozen=True)
class SignedStaffKeyStatement:
    statement: StaffKeyStatement
    signer: SigningPublicKey
    signature: bytes

    def __post_init__(self) -> None:
        if len(self.signature) != SIGNATURE_BYTES:
            raise EncodingError(f"a signature is {SIGNATURE_BYTES} bytes")


def sign_staff_statement(
    statement: StaffKeyStatement, signing_key: SigningKeyPair
) -> SignedStaffKeyStatement:
    return SignedStaffKeyStatement(statement, signing_key.public,
                                   signing_key.sign(statement.signed_bytes()))


def verify_staff_statement(
    signed: SignedStaffKeyStatement, *, pinned_fingerprint: str, at: int | None
) -> StaffKeyStatement:
    """The statement if the pinned key signed it (and it is valid `at`, unless None)."""
    if not hmac.compare_digest(signed.signer.fingerprint_digest,
                               parse_fingerprint(pinned_fingerprint)):
        raise UntrustedSigner()
    verify_signature(signed.signer, signed.signature, signed.statement.signed_bytes())
    st = signed.statement
    if at is not None and not st.not_before <= at <= st.not_after:
        raise StatementNotValid(f"valid from {st.not_before} to {st.not_after}, not at {at}")
    return st


def staff_statement_to_dict(signed: SignedStaffKeyStatement) -> dict[str, object]:
    st = signed.statement
    return {
        "v": PROTOCOL_VERSION, "kind": KIND, "subject": st.subject, "role": st.role,
        "signing_key": b64url_encode(st.signing_key.raw),
        "encryption_key": b64url_encode(st.encryption_key.raw),
        "not_before": st.not_before, "not_after": st.not_after,
        "signer": b64url_encode(signed.signer.raw),
        "signature": b64url_encode(signed.signature),
    }


def staff_statement_from_dict(data: Mapping[str, object]) -> SignedStaffKeyStatement:
    if not isinstance(data, Mapping) or set(data) != _FIELDS:
        raise EncodingError(f"a staff key statement has exactly the fields {sorted(_FIELDS)}")
    if data["v"] != PROTOCOL_VERSION:
        raise UnsupportedVersion(f"staff key statement version {data['v']!r}")
    if data["kind"] != KIND:
        raise EncodingError("not a staff key statement")
    subject, role = data["subject"], data["role"]
    not_before, not_after = data["not_before"], data["not_after"]
    if not isinstance(subject, str) or not isinstance(role, str):
        raise EncodingError("subject and role must be strings")
    if not isinstance(not_before, int) or not isinstance(not_after, int):
        raise EncodingError("not_before and not_after must be integers")
    return SignedStaffKeyStatement(
        StaffKeyStatement(subject, role, SigningPublicKey(_b64(data, "signing_key")),
                          EncryptionPublicKey(_b64(data, "encryption_key")),
                          not_before, not_after),
        SigningPublicKey(_b64(data, "signer")),
        _b64(data, "signature"),
    )


def _b64(data: Mapping[str, object], name: str) -> bytes:
    value = data[name]
    if not isinstance(value, str):
        raise EncodingError(f"{name} must be base64url text")
    return b64url_decode(value)
