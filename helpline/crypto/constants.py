"""Protocol constants shared with the browser code: version, suite id, domain labels.

Every byte string that is signed, hashed, used as HPKE `info` or as AES-GCM
associated data starts with one of these ASCII labels (see encoding.encode_fields),
so a signature or binding made for one purpose can never be taken for another.
The `v2` in each label is the protocol version; a new version gets new labels.
Changing any value here breaks every stored transcript and the test vectors.
"""

from __future__ import annotations

from typing import Final

# Version byte at the start of every envelope and wrap blob.
PROTOCOL_VERSION: Final = 2

# Suite 1: HPKE base mode with DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM
# (RFC 9180 ids kem 0x0020, kdf 0x0001, aead 0x0002) for wraps; AES-256-GCM with a
# 12-byte random nonce for message bodies; Ed25519 for signatures; SHA-256 for
# fingerprints. One byte names the whole combination so nothing is negotiated.
SUITE_ID: Final = 1

LABEL_FINGERPRINT_X25519: Final = b"helpline/v2/fingerprint/x25519"
LABEL_FINGERPRINT_ED25519: Final = b"helpline/v2/fingerprint/ed25519"
LABEL_STATEMENT_TEAM_KEY: Final = b"helpline/v2/statement/team-key"
LABEL_STATEMENT_POLICE_KEY: Final = b"helpline/v2/statement/police-key"
LABEL_STATEMENT_STAFF_KEY: Final = b"helpline/v2/statement/staff-key"
LABEL_STATEMENT_REVOCATIONS: Final = b"helpline/v2/statement/revocations"
LABEL_POLICE_CONSENT: Final = b"helpline/v2/police-consent"
LABEL_RETURN_CODE: Final = b"helpline/v2/return-code"
LABEL_WRAP_CONVERSATION_KEY: Final = b"helpline/v2/wrap/conversation-key"
LABEL_WRAP_TEAM_KEY_GRANT: Final = b"helpline/v2/wrap/team-key-grant"
LABEL_MSG_AAD: Final = b"helpline/v2/msg-aad"
LABEL_MSG_SIG: Final = b"helpline/v2/msg-sig"
LABEL_STATEMENT_EPOCH: Final = b"helpline/v2/statement/epoch"
LABEL_EPOCH_COMMITMENT: Final = b"helpline/v2/epoch-commitment"

ALL_LABELS: Final = (
    LABEL_FINGERPRINT_X25519,
    LABEL_FINGERPRINT_ED25519,
    LABEL_STATEMENT_TEAM_KEY,
    LABEL_STATEMENT_POLICE_KEY,
    LABEL_STATEMENT_STAFF_KEY,
    LABEL_STATEMENT_REVOCATIONS,
    LABEL_POLICE_CONSENT,
    LABEL_RETURN_CODE,
    LABEL_WRAP_CONVERSATION_KEY,
    LABEL_WRAP_TEAM_KEY_GRANT,
    LABEL_MSG_AAD,
    LABEL_MSG_SIG,
    LABEL_STATEMENT_EPOCH,
    LABEL_EPOCH_COMMITMENT,
)

KEY_BYTES: Final = 32  # raw X25519/Ed25519 keys, epoch keys, SHA-256 digests
SIGNATURE_BYTES: Final = 64  # Ed25519
NONCE_BYTES: Final = 12  # AES-GCM
TAG_BYTES: Final = 16  # AES-GCM
HPKE_ENC_BYTES: Final = 32  # DHKEM(X25519) encapsulated key

# Identifiers (conversation ids, periods, police units, grantee names) are short
# ASCII so that Python and JavaScript turn them into the same bytes with no
# Unicode normalisation question; the server's ids and usernames fit.
MAX_IDENTIFIER_BYTES: Final = 128

# A chat message, not a file transfer; keeps one envelope well under any frame limit.
# This is the padded size (padding.py): the largest bucket.
MAX_PLAINTEXT_BYTES: Final = 65_536

# Integers travel in JSON too; above 2**53 - 1 JavaScript numbers lose precision.
MAX_JSON_INT: Final = 2**53 - 1
