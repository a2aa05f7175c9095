"""HPKE wrapping of 32-byte secrets for an X25519 recipient.

Two purposes, each with its own domain label in the HPKE `info` (base mode,
single-shot, empty AAD: `cryptography`'s single-shot API has no AAD argument, so
all context is bound through `info`):

- conversation key: a conversation epoch key, wrapped by the young person's widget
  for the current team key (and, with consent, the police unit key).

      info = encode_fields(LABEL_WRAP_CONVERSATION_KEY, [version, suite],
                           conversation_id (ASCII), u32be(epoch),
                           recipient fingerprint digest (32))

- team key grant: a period's team private key, wrapped for one staff member's
  device key.

      info = encode_fields(LABEL_WRAP_TEAM_KEY_GRANT, [version, suite],
                           period (ASCII), grantee (ASCII username),
                           team public key fingerprint digest (32),
                           recipient fingerprint digest (32))

Wrapped blob (82 bytes): version (1) || suite (1) || enc (32) || HPKE ciphertext
(32-byte secret + 16-byte tag). Opening with any other recipient key or any other
info fails the AEAD tag, reported as UnwrapFailed.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from helpline.crypto.constants import (
    HPKE_ENC_BYTES,
    KEY_BYTES,
    LABEL_WRAP_CONVERSATION_KEY,
    LABEL_WRAP_TEAM_KEY_GRANT,
    PROTOCOL_VERSION,
    SUITE_ID,
    TAG_BYTES,
)
from helpline.crypto.encoding import encode_fields, identifier_bytes, uint_be
from helpline.crypto.errors import (
    InvalidKey,
    UnsupportedSuite,
    UnsupportedVersion,
    UnwrapFailed,
)
from helpline.crypto.keys import EncryptionKeyPair, EncryptionPublicKey, check_secret

HPKE_SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)

_HEADER = bytes([PROTOCOL_VERSION, SUITE_ID])
WRAPPED_BYTES = len(_HEADER) + HPKE_ENC_BYTES + KEY_BYTES + TAG_BYTES


def conversation_key_info(
    recipient: EncryptionPublicKey, *, conversation_id: str, epoch: int
) -> bytes:
    """HPKE `info` for an epoch key of `conversation_id` wrapped for `recipient`."""
    return encode_fields(
        LABEL_WRAP_CONVERSATION_KEY,
        _HEADER,
        identifier_bytes(conversation_id, "conversation id"),
        uint_be(epoch, 4),
        recipient.fingerprint_digest,
    )


def team_key_grant_info(
    recipient: EncryptionPublicKey,
    *,
    period: str,
    grantee: str,
    team_public_key: EncryptionPublicKey,
) -> bytes:
    """HPKE `info` for the `period` team private key granted to `grantee`'s device key."""
    return encode_fields(
        LABEL_WRAP_TEAM_KEY_GRANT,
        _HEADER,
        identifier_bytes(period, "period"),
        identifier_bytes(grantee, "grantee"),
        team_public_key.fingerprint_digest,
        recipient.fingerprint_digest,
    )


def wrap_conversation_key(
    epoch_key: bytes, recipient: EncryptionPublicKey, *, conversation_id: str, epoch: int
) -> bytes:
    info = conversation_key_info(recipient, conversation_id=conversation_id, epoch=epoch)
    return _wrap(check_secret(epoch_key, "epoch key"), recipient, info)


def unwrap_conversation_key(
    wrapped: bytes, recipient: EncryptionKeyPair, *, conversation_id: str, epoch: int
) -> bytes:
    """The epoch key; raises UnwrapFailed for any other recipient, conversation or epoch."""
    info = conversation_key_info(recipient.public, conversation_id=conversation_id, epoch=epoch)
    return _unwrap(wrapped, recipient, info)


def wrap_team_key_grant(
    team_key: EncryptionKeyPair, recipient: EncryptionPublicKey, *, period: str, grantee: str
) -> bytes:
    info = team_key_grant_info(
        recipient, period=period, grantee=grantee, team_public_key=team_key.public
    )
    return _wrap(team_key.private_bytes_raw(), recipient, info)


def unwrap_team_key_grant(
    wrapped: bytes,
    recipient: EncryptionKeyPair,
    *,
    period: str,
    grantee: str,
    team_public_key: EncryptionPublicKey,
) -> EncryptionKeyPair:
    """The team key pair; raises UnwrapFailed for another recipient, period, grantee or team key."""
    info = team_key_grant_info(
        recipient.public, period=period, grantee=grantee, team_public_key=team_public_key
    )
    team_key = EncryptionKeyPair.from_private_bytes(_unwrap(wrapped, recipient, info))
    # The info already binds the team key's fingerprint; this catches a granter who
    # wrapped the wrong private key under the right label.
    if team_key.public != team_public_key:
        raise InvalidKey("the granted private key does not match the team public key")
    return team_key


def _wrap(secret: bytes, recipient: EncryptionPublicKey, info: bytes) -> bytes:
    return _HEADER + HPKE_SUITE.encrypt(secret, recipient.to_cryptography(), info=info)


def _unwrap(wrapped: bytes, recipient: EncryptionKeyPair, info: bytes) -> bytes:
    if not isinstance(wrapped, bytes) or len(wrapped) < len(_HEADER):
        raise UnwrapFailed("a wrapped key is too short")
    if wrapped[0] != PROTOCOL_VERSION:
        raise UnsupportedVersion(f"wrapped key version {wrapped[0]}")
    if wrapped[1] != SUITE_ID:
        raise UnsupportedSuite(f"wrapped key suite {wrapped[1]}")
    if len(wrapped) != WRAPPED_BYTES:
        raise UnwrapFailed(f"a wrapped key is {WRAPPED_BYTES} bytes")
    try:
        secret = HPKE_SUITE.decrypt(wrapped[len(_HEADER) :], recipient.private_key, info=info)
    except (InvalidTag, ValueError) as exc:
        raise UnwrapFailed() from exc
    return check_secret(secret)
