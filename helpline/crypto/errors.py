"""The crypto error tree: every way a key, wrap, statement or envelope is refused.

Each error has a stable `code` (snake_case). Codes are shared with the browser code
and the test vectors (tests/vectors/*.json name the code a negative case must give),
so never rename one. The transport layer maps them to its own acks at the edge.

    CryptoError                    crypto_error         (base; never raised itself)
    ├── EncodingError              bad_encoding         (bad base64url, hex, field, identifier)
    ├── InvalidKey                 invalid_key          (wrong length or kind of key or secret)
    ├── UnsupportedVersion         unsupported_version  (version byte we do not speak)
    ├── UnsupportedSuite           unsupported_suite    (suite byte we do not speak)
    ├── BadSignature               bad_signature        (Ed25519 signature does not verify)
    ├── UntrustedSigner            untrusted_signer     (statement signer is not the pinned key)
    ├── WrongStatementKind         wrong_statement_kind (a police key where a team key was asked)
    ├── StatementNotValid          statement_not_valid  (outside not_before..not_after)
    ├── KeyRevoked                 key_revoked          (the organisation revoked the key then)
    ├── RevocationRollback         revocation_rollback  (an older revocation list than one seen)
    ├── UnwrapFailed               unwrap_failed        (wrong recipient key or wrong context)
    ├── EnvelopeError              envelope_error       (base of message-body refusals)
    │   ├── MalformedEnvelope      malformed_envelope   (cannot be parsed)
    │   ├── WrongConversation      wrong_conversation   (header names another conversation)
    │   ├── WrongEpoch             wrong_epoch          (another epoch, or one we hold no key for)
    │   ├── UnknownSender          unknown_sender       (signing key not the expected one)
    │   ├── WrongRole              wrong_role           (role byte differs from the sender's role)
    │   ├── Tampered               tampered             (signed, but AES-GCM refuses: bad key/AAD)
    │   ├── Replay                 replay               (sender counter already seen)
    │   ├── Reordered              reordered            (sender counter lower than the last one)
    │   └── BadPadding             bad_padding          (decrypted, but padding not canonical)
    ├── EpochError                 epoch_error          (base of epoch-statement refusals)
    │   ├── EpochNotVerified       epoch_unverified     (no valid signed statement for this epoch)
    │   ├── KeyMismatch            key_mismatch         (unwrapped key differs from the commitment)
    │   ├── NotAReader             not_a_reader         (the statement does not list this key)
    │   └── ConsentLapsed          consent_lapsed       (the epoch's police consent has expired)
    └── KeyFileError               key_file_error       (missing, unreadable or unsafe key file)
        └── WrongPassphrase        wrong_passphrase     (missing or wrong passphrase)
"""

from __future__ import annotations

from typing import ClassVar


class CryptoError(Exception):
    """Base of every refusal in helpline.crypto; `code` is stable across languages."""

    code: ClassVar[str] = "crypto_error"
    default_message: ClassVar[str] = "A cryptographic check failed."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class EncodingError(CryptoError):
    code = "bad_encoding"
    default_message = "The data is not in the expected encoding."


class InvalidKey(CryptoError):
    code = "invalid_key"
    default_message = "The key or secret has the wrong length or kind."


class UnsupportedVersion(CryptoError):
    code = "unsupported_version"
    default_message = "The protocol version is not supported."


class UnsupportedSuite(CryptoError):
    code = "unsupported_suite"
    default_message = "The cipher suite is not supported."


class BadSignature(CryptoError):
    code = "bad_signature"
    default_message = "The signature does not verify."


class UntrustedSigner(CryptoError):
    code = "untrusted_signer"
    default_message = "The statement is not signed by the pinned signing key."


class WrongStatementKind(CryptoError):
    code = "wrong_statement_kind"
    default_message = "The key statement is of another kind."


class StatementNotValid(CryptoError):
    code = "statement_not_valid"
    default_message = "The key statement is not valid at this time."


class KeyRevoked(CryptoError):
    code = "key_revoked"
    default_message = "The organisation revoked this key."


class RevocationRollback(CryptoError):
    code = "revocation_rollback"
    default_message = "The revocation list is older than one seen before."


class UnwrapFailed(CryptoError):
    code = "unwrap_failed"
    default_message = "The wrapped key cannot be opened with this key and context."


class EnvelopeError(CryptoError):
    code = "envelope_error"
    default_message = "The message envelope was refused."


class MalformedEnvelope(EnvelopeError):
    code = "malformed_envelope"
    default_message = "The message envelope cannot be parsed."


class WrongConversation(EnvelopeError):
    code = "wrong_conversation"
    default_message = "The message belongs to another conversation."


class WrongEpoch(EnvelopeError):
    code = "wrong_epoch"
    default_message = "The message belongs to another epoch."


class UnknownSender(EnvelopeError):
    code = "unknown_sender"
    default_message = "The message is signed by an unknown sender."


class WrongRole(EnvelopeError):
    code = "wrong_role"
    default_message = "The message claims a role its sender does not have."


class Tampered(EnvelopeError):
    code = "tampered"
    default_message = "The message does not decrypt: it was altered or moved."


class Replay(EnvelopeError):
    code = "replay"
    default_message = "The message was already delivered."


class Reordered(EnvelopeError):
    code = "reordered"
    default_message = "The message arrived after a later one from the same sender."


class BadPadding(EnvelopeError):
    code = "bad_padding"
    default_message = "The message padding is not canonical."


class EpochError(CryptoError):
    code = "epoch_error"
    default_message = "The conversation's key epoch cannot be trusted."


class EpochNotVerified(EpochError):
    code = "epoch_unverified"
    default_message = "The epoch has no statement signed by the young person's key."


class KeyMismatch(EpochError):
    code = "key_mismatch"
    default_message = "The unwrapped epoch key is not the one the young person committed to."


class NotAReader(EpochError):
    code = "not_a_reader"
    default_message = "The young person did not name this key as a reader of the epoch."


class ConsentLapsed(EpochError):
    code = "consent_lapsed"
    default_message = "The police consent of this epoch has expired: wait for a new epoch."


class KeyFileError(CryptoError):
    code = "key_file_error"
    default_message = "The key file cannot be used."


class WrongPassphrase(KeyFileError):
    code = "wrong_passphrase"
    default_message = "The passphrase for the key file is missing or wrong."
