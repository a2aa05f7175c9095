"""The young person's signed consent to a police handover.

Only the young person's own client can say yes: it signs, with the conversation's
Ed25519 key (made in memory when the conversation opened), exactly what it agrees
to, and the server checks the signature against the key stored with the
conversation before it lets any officer in.

Signed bytes:

    encode_fields("helpline/v2/police-consent",
                  ASCII conversation id, police unit key fingerprint digest (32 bytes),
                  share history (1 byte: 0 or 1), u64be(expires_at, Unix seconds),
                  nonce (16 to 64 random bytes))

Transport form: {"police_fingerprint": hex, "share_history": bool,
"expires_at": int, "nonce": b64url, "signature": b64url}.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from helpline.crypto.constants import LABEL_POLICE_CONSENT, SIGNATURE_BYTES
from helpline.crypto.encoding import (
    b64url_decode,
    b64url_encode,
    encode_fields,
    identifier_bytes,
    uint_be,
)
from helpline.crypto.errors import EncodingError
from helpline.crypto.keys import (
    SigningKeyPair,
    SigningPublicKey,
    parse_fingerprint,
    verify_signature,
)

NONCE_MIN, NONCE_MAX = 16, 64


@dataclass(frozen=True)
class Consent:
    conversation_id: str
    police_fingerprint: str  # hex, as keys.fingerprint of the police unit's X25519 key
    share_history: bool
    expires_at: int
    nonce: bytes
    signature: bytes = b""

    def signed_bytes(self) -> bytes:
        if not NONCE_MIN <= len(self.nonce) <= NONCE_MAX:
            raise EncodingError(f"a consent nonce is {NONCE_MIN} to {NONCE_MAX} bytes")
        return encode_fields(
            LABEL_POLICE_CONSENT,
            identifier_bytes(self.conversation_id, "conversation id"),
            parse_fingerprint(self.police_fingerprint),
            b"\x01" if self.share_history else b"\x00",
            uint_be(self.expires_at, 8),
            self.nonce,
        )

    def to_wire(self) -> dict[str, object]:
        return {"police_fingerprint": self.police_fingerprint,
                "share_history": self.share_history, "expires_at": self.expires_at,
                "nonce": b64url_encode(self.nonce), "signature": b64url_encode(self.signature)}


def sign_consent(conversation_id: str, police_fingerprint: str, share_history: bool,
                 expires_at: int, signing_key: SigningKeyPair) -> Consent:
    unsigned = Consent(conversation_id, police_fingerprint, share_history, expires_at,
                       os.urandom(32))
    return Consent(conversation_id, police_fingerprint, share_history, expires_at,
                   unsigned.nonce, signing_key.sign(unsigned.signed_bytes()))


def consent_from_wire(conversation_id: str, data: Mapping[str, object]) -> Consent:
    """Parse the transport form for `conversation_id` (the server's, not the client's)."""
    fingerprint, share = data.get("police_fingerprint"), data.get("share_history")
    expires, nonce, signature = data.get("expires_at"), data.get("nonce"), data.get("signature")
    if not isinstance(fingerprint, str) or not isinstance(share, bool):
        raise EncodingError("police_fingerprint must be text and share_history a boolean")
    if isinstance(expires, bool) or not isinstance(expires, int) or expires < 0:
        raise EncodingError("expires_at must be a whole number of seconds")
    if not isinstance(nonce, str) or not isinstance(signature, str):
        raise EncodingError("nonce and signature must be base64url text")
    sig = b64url_decode(signature)
    if len(sig) != SIGNATURE_BYTES:
        raise EncodingError(f"a signature is {SIGNATURE_BYTES} bytes")
    return Consent(conversation_id, fingerprint, share, expires, b64url_decode(nonce), sig)


def verify_consent(consent: Consent, youth_key: SigningPublicKey) -> None:
    """Raise BadSignature unless the young person's key signed exactly this consent."""
    verify_signature(youth_key, consent.signature, consent.signed_bytes())
