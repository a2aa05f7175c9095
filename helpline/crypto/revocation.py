"""The organisation-signed revocation list: keys that no longer speak for the helpline.

A lost staff device, a leaked team key or a replaced police key is revoked by the
admin (`helpline keys revoke`), who signs a new list with the organisation key and
publishes it in Redis; the server serves it with the `keys` directory, the staff
`keys` answer and `conversation_keys`. Every client checks it (docs/crypto.md,
"Revocation list"): a message signed by a revoked staff key at or after its
revocation time is refused, a revoked team or police key is never encrypted to,
and a list with a lower serial than one seen before is refused, so a server
cannot quietly hand back a list from before the revocation.

Signed bytes (times are Unix seconds; fingerprints are 32-byte SHA-256 digests, as
keys.fingerprint_digest; entries sorted by fingerprint, no repeats):

    encode_fields(LABEL_STATEMENT_REVOCATIONS, u64be(serial), u64be(issued_at),
                  entries = concat(fingerprint (32) || u64be(revoked_at)) )

Transport form (JSON; the signature covers the bytes above):

    {"v": 2, "kind": "revocations", "serial": int, "issued_at": int,
     "revoked": [{"fingerprint": hex, "revoked_at": int}, ...],
     "signer": b64url, "signature": b64url}
"""

from __future__ import annotations

import hmac
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from helpline.crypto.constants import (
    LABEL_STATEMENT_REVOCATIONS,
    MAX_JSON_INT,
    PROTOCOL_VERSION,
    SIGNATURE_BYTES,
)
from helpline.crypto.encoding import b64url_decode, b64url_encode, encode_fields, uint_be
from helpline.crypto.errors import (
    EncodingError,
    KeyRevoked,
    RevocationRollback,
    UnsupportedVersion,
    UntrustedSigner,
)
from helpline.crypto.keys import (
    SigningKeyPair,
    SigningPublicKey,
    parse_fingerprint,
    verify_signature,
)

KIND = "revocations"
# Far more than a helpline's staff will ever lose; bounds what a client parses.
MAX_REVOKED = 10_000
_FIELDS = frozenset({"v", "kind", "serial", "issued_at", "revoked", "signer", "signature"})
_ENTRY_FIELDS = frozenset({"fingerprint", "revoked_at"})


def _check_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_JSON_INT:
        raise EncodingError(f"{what} must be an integer from 0 to 2**53 - 1")
    return value


@dataclass(frozen=True)
class Revocation:
    fingerprint: str  # lowercase hex, of an Ed25519 or X25519 public key
    revoked_at: int

    def __post_init__(self) -> None:
        parse_fingerprint(self.fingerprint)
        _check_int(self.revoked_at, "revoked_at")


@dataclass(frozen=True)
class RevocationList:
    serial: int
    issued_at: int
    revoked: tuple[Revocation, ...] = ()
    _index: dict[str, int] = field(default_factory=dict, init=False, repr=False,
                                   compare=False)

    def __post_init__(self) -> None:
        _check_int(self.serial, "serial")
        _check_int(self.issued_at, "issued_at")
        if len(self.revoked) > MAX_REVOKED:
            raise EncodingError(f"at most {MAX_REVOKED} revoked keys")
        digests = [parse_fingerprint(r.fingerprint) for r in self.revoked]
        # One canonical order, so equal lists have equal bytes in both languages.
        if any(a >= b for a, b in itertools.pairwise(digests)):
            raise EncodingError("revoked fingerprints must be sorted and distinct")
        self._index.update({r.fingerprint: r.revoked_at for r in self.revoked})

    def signed_bytes(self) -> bytes:
        entries = b"".join(parse_fingerprint(r.fingerprint) + uint_be(r.revoked_at, 8)
                           for r in self.revoked)
        return encode_fields(LABEL_STATEMENT_REVOCATIONS, uint_be(self.serial, 8),
                             uint_be(self.issued_at, 8), entries)

    def revoked_at(self, fingerprint: str) -> int | None:
        """When `fingerprint` was revoked, or None if it is not on the list."""
        return self._index.get(fingerprint)

    def check(self, fingerprint: str, at: int) -> None:
        """Raise KeyRevoked if the key was revoked at or before `at` (Unix seconds)."""
        when = self.revoked_at(fingerprint)
        if when is not None and at >= when:
            raise KeyRevoked(f"key {fingerprint[:16]}… was revoked at {when}")

    def with_revoked(self, fingerprints: list[str], at: int) -> RevocationList:
        """The next list: these keys added (an earlier revocation time is kept)."""
        merged = dict(self._index)
        for fp in fingerprints:
            merged.setdefault(fp, at)
        return RevocationList(self.serial + 1, at, tuple(
            Revocation(fp, when) for fp, when in sorted(merged.items())))


EMPTY = RevocationList(0, 0)


@dataclass(frozen=True)
class SignedRevocationList:
    revocations: RevocationList
    signer: SigningPublicKey
    signature: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_BYTES:
            raise EncodingError(f"a signature is {SIGNATURE_BYTES} bytes")


def sign_revocations(revocations: RevocationList, signing_key: SigningKeyPair
                     ) -> SignedRevocationList:
    """Sign with the organisation's key (offline, by `helpline keys revoke`)."""
    return SignedRevocationList(revocations, signing_key.public,
                                signing_key.sign(revocations.signed_bytes()))


def verify_revocations(signed: SignedRevocationList, *, pinned_fingerprint: str
                       ) -> RevocationList:
    """The list if the pinned organisation key signed it (UntrustedSigner, BadSignature)."""
    if not hmac.compare_digest(signed.signer.fingerprint_digest,
                               parse_fingerprint(pinned_fingerprint)):
        raise UntrustedSigner()
    verify_signature(signed.signer, signed.signature, signed.revocations.signed_bytes())
    return signed.revocations


def revocations_to_dict(signed: SignedRevocationList) -> dict[str, object]:
    r = signed.revocations
    return {
        "v": PROTOCOL_VERSION, "kind": KIND, "serial": r.serial, "issued_at": r.issued_at,
        "revoked": [{"fingerprint": x.fingerprint, "revoked_at": x.revoked_at}
                    for x in r.revoked],
        "signer": b64url_encode(signed.signer.raw),
        "signature": b64url_encode(signed.signature),
    }


def revocations_from_dict(data: Mapping[str, object]) -> SignedRevocationList:
    """Parse the transport form strictly: exact fields, exact types, canonical order."""
    if not isinstance(data, Mapping) or set(data) != _FIELDS:
        raise EncodingError(f"a revocation list has exactly the fields {sorted(_FIELDS)}")
    version = data["v"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise EncodingError("v must be an integer")
    if version != PROTOCOL_VERSION:
        raise UnsupportedVersion(f"revocation list version {version}")
    if data["kind"] != KIND:
        raise EncodingError("not a revocation list")
    items = data["revoked"]
    if not isinstance(items, list) or len(items) > MAX_REVOKED:
        raise EncodingError(f"revoked must be a list of at most {MAX_REVOKED} entries")
    revoked = []
    for item in items:
        if not isinstance(item, Mapping) or set(item) != _ENTRY_FIELDS:
            raise EncodingError("a revoked entry is {fingerprint, revoked_at}")
        if not isinstance(item["fingerprint"], str):
            raise EncodingError("a fingerprint is 64 lowercase hex digits")
        revoked.append(Revocation(item["fingerprint"], _check_int(item["revoked_at"],
                                                                  "revoked_at")))
    return SignedRevocationList(
        RevocationList(_check_int(data["serial"], "serial"),
                       _check_int(data["issued_at"], "issued_at"), tuple(revoked)),
        SigningPublicKey(_b64(data, "signer")),
        _b64(data, "signature"),
    )


def revocations_to_json(signed: SignedRevocationList) -> str:
    return json.dumps(revocations_to_dict(signed), separators=(",", ":"), sort_keys=True)


def revocations_from_json(text: str) -> SignedRevocationList:
    try:
        data = json.loads(text)
    except (ValueError, TypeError) as exc:
        raise EncodingError("a revocation list must be a JSON object") from exc
    if not isinstance(data, dict):
        raise EncodingError("a revocation list must be a JSON object")
    return revocations_from_dict(data)


@dataclass
class RevocationTracker:
    """What one client has seen: the newest verified list, never going back.

    A server may omit the list (the last one seen still applies) but may not hand
    back an older one: a lower serial, or the same serial with other contents, is
    refused with RevocationRollback.
    """

    pinned_fingerprint: str
    current: RevocationList = EMPTY
    _signed_bytes: bytes = field(default=b"", repr=False)

    def accept(self, data: object) -> RevocationList:
        """Verify and remember a list from the server (None: keep the one seen)."""
        if data is None:
            return self.current
        if not isinstance(data, Mapping):
            raise EncodingError("a revocation list must be a JSON object")
        revocations = verify_revocations(revocations_from_dict(data),
                                         pinned_fingerprint=self.pinned_fingerprint)
        signed_bytes = revocations.signed_bytes()
        if revocations.serial < self.current.serial or (
                revocations.serial == self.current.serial and self._signed_bytes
                and not hmac.compare_digest(signed_bytes, self._signed_bytes)):
            raise RevocationRollback(
                f"serial {revocations.serial}, but serial {self.current.serial} was seen")
        self.current, self._signed_bytes = revocations, signed_bytes
        return revocations


def check_fingerprint_text(text: str) -> str:
    """A fingerprint typed by an admin: 64 lowercase hex digits, spaces and case ignored."""
    cleaned = "".join(text.split()).lower()
    parse_fingerprint(cleaned)
    return cleaned


def _b64(data: Mapping[str, object], name: str) -> bytes:
    value = data[name]
    if not isinstance(value, str):
        raise EncodingError(f"{name} must be base64url text")
    return b64url_decode(value)
