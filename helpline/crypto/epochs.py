"""Signed epoch statements: the young person alone decides who reads an epoch.

Every epoch key is made by the young person's client, which signs, with the
conversation's Ed25519 key, what the epoch is:

    encode_fields("helpline/v2/statement/epoch",
                  conversation id (ASCII), u32be(epoch),
                  commitment (32 bytes),
                  readers (33 bytes each, sorted: kind byte || fingerprint digest),
                  consent (the police consent's signed bytes, or empty))

    commitment = SHA-256(encode_fields("helpline/v2/epoch-commitment",
                                       conversation id (ASCII), u32be(epoch), epoch key))

    reader kinds: 1 team key (a period's key), 2 police unit key

Staff and police clients read or send in an epoch only if its statement verifies
against the conversation's signing key, their unwrapped key matches the commitment,
and their key is one of the readers. So a server (or anyone who can act as the young
person on it, such as a holder of the resume token) cannot start an epoch with a key
it chose: it cannot sign. The commitment also makes AES-GCM key-committing for the
epoch: all readers provably hold the same key, so one envelope cannot decrypt to
different texts for the team and for the police.

A police reader appears if and only if the statement carries a consent for that
police key; readers may rely on the consent's expiry: after it, nobody sends in the
epoch (ConsentLapsed) until the young person's client starts a team-only one.

Transport form (the conversation id is the one the statement is read for):

    {"v": 2, "epoch": int, "commitment": b64url,
     "readers": [{"kind": "team" | "police", "fingerprint": 64 hex}, ...],
     "consent": null | consent transport form (consent.py), "signature": b64url}
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from helpline.crypto.consent import Consent, consent_from_wire
from helpline.crypto.constants import (
    KEY_BYTES,
    LABEL_EPOCH_COMMITMENT,
    LABEL_STATEMENT_EPOCH,
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
    ConsentLapsed,
    CryptoError,
    EncodingError,
    EpochNotVerified,
    KeyMismatch,
    NotAReader,
    UnsupportedVersion,
)
from helpline.crypto.keys import (
    SigningKeyPair,
    SigningPublicKey,
    check_secret,
    parse_fingerprint,
    verify_signature,
)

MAX_READERS = 8  # as many wraps as one epoch may have (the server's limit too)
_WIRE_FIELDS = frozenset({"v", "epoch", "commitment", "readers", "consent", "signature"})


class ReaderKind(StrEnum):
    TEAM = "team"
    POLICE = "police"


READER_CODES = {ReaderKind.TEAM: 1, ReaderKind.POLICE: 2}


@dataclass(frozen=True, order=True)
class EpochReader:
    """One key the epoch key is wrapped for: a team period's key or the police unit's."""

    kind: ReaderKind
    fingerprint: str  # 64 lowercase hex digits of the X25519 key

    def to_bytes(self) -> bytes:
        return bytes([READER_CODES[self.kind]]) + parse_fingerprint(self.fingerprint)


def epoch_commitment(epoch_key: bytes, *, conversation_id: str, epoch: int) -> bytes:
    """The 32-byte commitment to an epoch key that the statement signs."""
    return hashlib.sha256(encode_fields(
        LABEL_EPOCH_COMMITMENT, identifier_bytes(conversation_id, "conversation id"),
        uint_be(epoch, 4), check_secret(epoch_key, "epoch key"))).digest()


@dataclass(frozen=True)
class EpochStatement:
    conversation_id: str
    epoch: int
    commitment: bytes
    readers: tuple[EpochReader, ...]  # sorted by (kind code, fingerprint digest)
    consent: Consent | None
    signature: bytes = b""

    def __post_init__(self) -> None:
        identifier_bytes(self.conversation_id, "conversation id")
        if isinstance(self.epoch, bool) or not isinstance(self.epoch, int) \
                or not 1 <= self.epoch < 2**32:
            raise EncodingError("epoch must be a whole number from 1 to 2**32 - 1")
        if len(self.commitment) != KEY_BYTES:
            raise EncodingError(f"a commitment is {KEY_BYTES} bytes")
        if not 1 <= len(self.readers) <= MAX_READERS:
            raise EncodingError(f"an epoch has 1 to {MAX_READERS} readers")
        encoded = [r.to_bytes() for r in self.readers]
        if encoded != sorted(set(encoded)):
            raise EncodingError("readers must be sorted and distinct")
        police = [r for r in self.readers if r.kind is ReaderKind.POLICE]
        if not any(r.kind is ReaderKind.TEAM for r in self.readers):
            raise EncodingError("an epoch is always readable by the team")
        if len(police) > 1:
            raise EncodingError("an epoch has at most one police reader")
        # A police reader exactly when there is a consent, and for that consent's key.
        if (self.consent is None) != (not police):
            raise EncodingError("a police reader needs a consent, and a consent a police reader")
        if self.consent is not None:
            if self.consent.conversation_id != self.conversation_id:
                raise EncodingError("the consent is for another conversation")
            if self.consent.police_fingerprint != police[0].fingerprint:
                raise EncodingError("the consent is for another police key")
        if self.signature and len(self.signature) != SIGNATURE_BYTES:
            raise EncodingError(f"a signature is {SIGNATURE_BYTES} bytes")

    def signed_bytes(self) -> bytes:
        return encode_fields(
            LABEL_STATEMENT_EPOCH,
            identifier_bytes(self.conversation_id, "conversation id"),
            uint_be(self.epoch, 4),
            self.commitment,
            b"".join(r.to_bytes() for r in self.readers),
            self.consent.signed_bytes() if self.consent is not None else b"",
        )

    @property
    def police_reader(self) -> EpochReader | None:
        return next((r for r in self.readers if r.kind is ReaderKind.POLICE), None)

    def reader_kinds(self) -> list[str]:
        """Who can read, as the apps show it: ["team"] or ["team", "police"]."""
        return sorted({r.kind.value for r in self.readers}, key=["team", "police"].index)

    def to_wire(self) -> dict[str, object]:
        return {
            "v": PROTOCOL_VERSION, "epoch": self.epoch,
            "commitment": b64url_encode(self.commitment),
            "readers": [{"kind": r.kind.value, "fingerprint": r.fingerprint}
                        for r in self.readers],
            "consent": self.consent.to_wire() if self.consent is not None else None,
            "signature": b64url_encode(self.signature),
        }


def sorted_readers(readers: Sequence[EpochReader]) -> tuple[EpochReader, ...]:
    return tuple(sorted(set(readers), key=EpochReader.to_bytes))


def sign_epoch_statement(*, conversation_id: str, epoch: int, epoch_key: bytes,
                         readers: Sequence[EpochReader], consent: Consent | None,
                         signing_key: SigningKeyPair) -> EpochStatement:
    """The young person's client: commit to `epoch_key` and name its readers."""
    unsigned = EpochStatement(
        conversation_id, epoch,
        epoch_commitment(epoch_key, conversation_id=conversation_id, epoch=epoch),
        sorted_readers(readers), consent)
    return EpochStatement(unsigned.conversation_id, unsigned.epoch, unsigned.commitment,
                          unsigned.readers, consent, signing_key.sign(unsigned.signed_bytes()))


def epoch_statement_from_wire(conversation_id: str, data: object) -> EpochStatement:
    """Parse the transport form strictly (exact fields and types) for `conversation_id`."""
    if not isinstance(data, Mapping) or set(data) != _WIRE_FIELDS:
        raise EncodingError(f"an epoch statement has exactly the fields {sorted(_WIRE_FIELDS)}")
    version = data["v"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise EncodingError("v must be an integer")
    if version != PROTOCOL_VERSION:
        raise UnsupportedVersion(f"epoch statement version {version}")
    epoch, readers, consent = data["epoch"], data["readers"], data["consent"]
    if isinstance(epoch, bool) or not isinstance(epoch, int):
        raise EncodingError("epoch must be an integer")
    if not isinstance(readers, list) or not all(
            isinstance(r, Mapping) and set(r) == {"kind", "fingerprint"} for r in readers):
        raise EncodingError("readers is a list of {kind, fingerprint}")
    parsed: list[EpochReader] = []
    for r in readers:
        kind, fingerprint = r["kind"], r["fingerprint"]
        if kind not in ("team", "police") or not isinstance(fingerprint, str):
            raise EncodingError("a reader's kind is team or police, its fingerprint hex")
        parse_fingerprint(fingerprint)
        parsed.append(EpochReader(ReaderKind(kind), fingerprint))
    if consent is not None and not isinstance(consent, Mapping):
        raise EncodingError("consent is null or a consent object")
    commitment, signature = data["commitment"], data["signature"]
    if not isinstance(commitment, str) or not isinstance(signature, str):
        raise EncodingError("commitment and signature are base64url text")
    sig = b64url_decode(signature)
    if len(sig) != SIGNATURE_BYTES:
        raise EncodingError(f"a signature is {SIGNATURE_BYTES} bytes")
    return EpochStatement(
        conversation_id, epoch, b64url_decode(commitment), tuple(parsed),
        consent_from_wire(conversation_id, consent) if consent is not None else None, sig)


def verify_epoch_statement(statement: EpochStatement, youth_key: SigningPublicKey, *,
                           conversation_id: str, epoch: int) -> EpochStatement:
    """The statement, if the young person's key signed it for this conversation and epoch.

    Raises EpochNotVerified (another conversation or epoch, or no valid signature):
    the reader must then neither read nor send in the epoch.
    """
    if statement.conversation_id != conversation_id or statement.epoch != epoch:
        raise EpochNotVerified(f"the statement is not for epoch {epoch} of this conversation")
    try:
        verify_signature(youth_key, statement.signature, statement.signed_bytes())
    except (CryptoError, ValueError) as exc:  # also a key that is not a curve point
        raise EpochNotVerified("the epoch statement is not signed by the young person") \
            from exc
    return statement


def check_epoch_key(statement: EpochStatement, epoch_key: bytes,
                    reader_fingerprint: str | None) -> None:
    """Raise unless `epoch_key` is the committed key and `reader_fingerprint` a reader.

    `reader_fingerprint` None checks the commitment only (the police reading an earlier
    epoch that a later consent shares: the statement of that epoch names no police).
    """
    if reader_fingerprint is not None and not any(
            r.fingerprint == reader_fingerprint for r in statement.readers):
        raise NotAReader()
    actual = epoch_commitment(epoch_key, conversation_id=statement.conversation_id,
                              epoch=statement.epoch)
    if not hmac.compare_digest(actual, statement.commitment):
        raise KeyMismatch()


def check_sendable(statement: EpochStatement, now: int) -> None:
    """Raise ConsentLapsed if the epoch rests on a police consent that has expired."""
    if statement.consent is not None and statement.consent.expires_at <= now:
        raise ConsentLapsed()
