"""Message envelopes: one AES-256-GCM ciphertext for all readers, signed by its sender.

Byte layout (n = length of the conversation id, integers big-endian):

    offset   size  field
    0        1     version (1)
    1        1     suite (1)
    2        1     sender role: 1 youth, 2 counsellor, 3 police, 4 bot, 5 system
    3        1     n, conversation id length (1..128)
    4        n     conversation id (ASCII A-Z a-z 0-9 . _ : -)
    4+n      4     epoch (u32)
    8+n      4     sender counter (u32): the sender's own count in this epoch, from 0
    12+n     32    sender signing-key fingerprint digest (see keys.py)
    44+n     12    nonce (random per message)
    56+n     c     AES-256-GCM ciphertext of the padded plaintext (padding.py) with its
                   16-byte tag (c = bucket + 16: 256 + 16 <= c <= 65,536 + 16)
    56+n+c   64    Ed25519 signature

    header    = bytes [0, 44+n)
    AAD       = encode_fields(LABEL_MSG_AAD, header)
    signature = Ed25519(sender key, encode_fields(LABEL_MSG_SIG, bytes [0, 56+n+c)))

Why both: every reader holds the epoch key, and AES-GCM lets any key holder make
a ciphertext that decrypts, so the signature is what stops one reader forging
another's message. The AAD binds the header to the ciphertext, so a key holder
cannot strip a signature and re-sign someone else's ciphertext as their own, nor
move it to another conversation, epoch or counter. The counter is the sender's,
not the server's delivery seq, because the sender cannot know the seq when it
seals; the reader (reader.py) enforces that it strictly increases.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from enum import StrEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from helpline.crypto.constants import (
    KEY_BYTES,
    LABEL_MSG_AAD,
    LABEL_MSG_SIG,
    MAX_PLAINTEXT_BYTES,
    NONCE_BYTES,
    PROTOCOL_VERSION,
    SIGNATURE_BYTES,
    SUITE_ID,
    TAG_BYTES,
)
from helpline.crypto.encoding import encode_fields, identifier_bytes, uint_be
from helpline.crypto.errors import (
    EncodingError,
    InvalidKey,
    MalformedEnvelope,
    Tampered,
    UnknownSender,
    UnsupportedSuite,
    UnsupportedVersion,
    WrongConversation,
    WrongEpoch,
    WrongRole,
)
from helpline.crypto.keys import SigningKeyPair, SigningPublicKey, check_secret, verify_signature
from helpline.crypto.padding import MIN_BUCKET, pad, unpad


class SenderRole(StrEnum):
    YOUTH = "youth"
    COUNSELLOR = "counsellor"
    POLICE = "police"
    BOT = "bot"
    SYSTEM = "system"


ROLE_CODES: dict[SenderRole, int] = {
    SenderRole.YOUTH: 1,
    SenderRole.COUNSELLOR: 2,
    SenderRole.POLICE: 3,
    SenderRole.BOT: 4,
    SenderRole.SYSTEM: 5,
}
_ROLES_BY_CODE = {code: role for role, code in ROLE_CODES.items()}

_FIXED_HEADER = 4 + 4 + 4 + KEY_BYTES  # version..length, epoch, counter, fingerprint
MIN_ENVELOPE_BYTES = _FIXED_HEADER + 1 + NONCE_BYTES + MIN_BUCKET + TAG_BYTES + SIGNATURE_BYTES
MAX_CIPHERTEXT_BYTES = MAX_PLAINTEXT_BYTES + TAG_BYTES


@dataclass(frozen=True)
class Sender:
    """Who a reader expects behind a signing key: the key and the role it speaks in."""

    public_key: SigningPublicKey
    role: SenderRole


@dataclass(frozen=True)
class EnvelopeHeader:
    role: SenderRole
    conversation_id: str
    epoch: int
    counter: int
    sender_fingerprint: bytes  # 32-byte digest, see keys.fingerprint_digest

    def to_bytes(self) -> bytes:
        conversation = identifier_bytes(self.conversation_id, "conversation id")
        if len(self.sender_fingerprint) != KEY_BYTES:
            raise InvalidKey("a sender fingerprint digest is 32 bytes")
        return b"".join(
            (
                bytes([PROTOCOL_VERSION, SUITE_ID, ROLE_CODES[self.role], len(conversation)]),
                conversation,
                uint_be(self.epoch, 4),
                uint_be(self.counter, 4),
                self.sender_fingerprint,
            )
        )


@dataclass(frozen=True)
class ParsedEnvelope:
    """An envelope split into its parts; nothing in it is verified yet."""

    header: EnvelopeHeader
    header_bytes: bytes
    nonce: bytes
    ciphertext: bytes
    signature: bytes

    @property
    def aad(self) -> bytes:
        return message_aad(self.header_bytes)

    @property
    def signature_input(self) -> bytes:
        return message_signature_input(self.header_bytes + self.nonce + self.ciphertext)


@dataclass(frozen=True)
class OpenedMessage:
    """A verified, decrypted message body and the context it was bound to."""

    conversation_id: str
    epoch: int
    counter: int
    role: SenderRole
    sender_fingerprint: str  # hex, as keys.fingerprint
    plaintext: bytes


def message_aad(header_bytes: bytes) -> bytes:
    """AES-GCM associated data for a message with this header."""
    return encode_fields(LABEL_MSG_AAD, header_bytes)


def message_signature_input(unsigned_envelope: bytes) -> bytes:
    """What the sender signs: the envelope up to (not including) the signature."""
    return encode_fields(LABEL_MSG_SIG, unsigned_envelope)


def seal_envelope(
    plaintext: bytes,
    *,
    epoch_key: bytes,
    conversation_id: str,
    epoch: int,
    counter: int,
    role: SenderRole,
    signing_key: SigningKeyPair,
) -> bytes:
    """Encrypt and sign one message body with a fresh random nonce."""
    return _seal_with_fixed_nonce_for_vectors_only(
        plaintext,
        epoch_key=epoch_key,
        conversation_id=conversation_id,
        epoch=epoch,
        counter=counter,
        role=role,
        signing_key=signing_key,
        nonce=os.urandom(NONCE_BYTES),
    )


def _seal_with_fixed_nonce_for_vectors_only(
    plaintext: bytes,
    *,
    epoch_key: bytes,
    conversation_id: str,
    epoch: int,
    counter: int,
    role: SenderRole,
    signing_key: SigningKeyPair,
    nonce: bytes,
) -> bytes:
    """seal_envelope with a caller-chosen nonce, for deterministic test vectors only.

    Reusing a nonce under one epoch key breaks AES-GCM (confidentiality and
    integrity); production code must call seal_envelope.
    """
    check_secret(epoch_key, "epoch key")
    if len(nonce) != NONCE_BYTES:
        raise EncodingError(f"a nonce is {NONCE_BYTES} bytes")
    padded = pad(plaintext)  # refuses a plaintext beyond the largest bucket
    header = EnvelopeHeader(
        role=role,
        conversation_id=conversation_id,
        epoch=epoch,
        counter=counter,
        sender_fingerprint=signing_key.public.fingerprint_digest,
    ).to_bytes()
    ciphertext = AESGCM(epoch_key).encrypt(nonce, padded, message_aad(header))
    unsigned = header + nonce + ciphertext
    return unsigned + signing_key.sign(message_signature_input(unsigned))


def parse_envelope(data: bytes) -> ParsedEnvelope:
    """Split an envelope; raises UnsupportedVersion, UnsupportedSuite or MalformedEnvelope."""
    if not isinstance(data, bytes) or len(data) < 2:
        raise MalformedEnvelope("too short")
    # Version and suite first, so a future format is named as such, not as garbage.
    if data[0] != PROTOCOL_VERSION:
        raise UnsupportedVersion(f"envelope version {data[0]}")
    if data[1] != SUITE_ID:
        raise UnsupportedSuite(f"envelope suite {data[1]}")
    if len(data) < MIN_ENVELOPE_BYTES:
        raise MalformedEnvelope("too short")
    role = _ROLES_BY_CODE.get(data[2])
    if role is None:
        raise MalformedEnvelope(f"unknown sender role {data[2]}")
    n = data[3]
    header_end = _FIXED_HEADER + n
    ciphertext_size = len(data) - header_end - NONCE_BYTES - SIGNATURE_BYTES
    if ciphertext_size < MIN_BUCKET + TAG_BYTES:
        raise MalformedEnvelope("too short for its conversation id")
    if ciphertext_size > MAX_CIPHERTEXT_BYTES:
        raise MalformedEnvelope("message body too long")
    try:
        conversation_id = data[4 : 4 + n].decode("ascii")
        identifier_bytes(conversation_id, "conversation id")
    except (UnicodeDecodeError, EncodingError) as exc:
        raise MalformedEnvelope("bad conversation id") from exc
    pos = 4 + n
    header = EnvelopeHeader(
        role=role,
        conversation_id=conversation_id,
        epoch=int.from_bytes(data[pos : pos + 4], "big"),
        counter=int.from_bytes(data[pos + 4 : pos + 8], "big"),
        sender_fingerprint=data[pos + 8 : header_end],
    )
    nonce_end = header_end + NONCE_BYTES
    return ParsedEnvelope(
        header=header,
        header_bytes=data[:header_end],
        nonce=data[header_end:nonce_end],
        ciphertext=data[nonce_end : len(data) - SIGNATURE_BYTES],
        signature=data[len(data) - SIGNATURE_BYTES :],
    )


def open_envelope(
    data: bytes, *, epoch_key: bytes, conversation_id: str, epoch: int, sender: Sender
) -> OpenedMessage:
    """Parse, check context, verify the signature, decrypt. See open_parsed_envelope."""
    return open_parsed_envelope(
        parse_envelope(data),
        epoch_key=epoch_key,
        conversation_id=conversation_id,
        epoch=epoch,
        sender=sender,
    )


def open_parsed_envelope(
    parsed: ParsedEnvelope,
    *,
    epoch_key: bytes,
    conversation_id: str,
    epoch: int,
    sender: Sender,
) -> OpenedMessage:
    """Open an envelope expected in `conversation_id`/`epoch` from `sender`.

    Raises, in this order: WrongConversation, WrongEpoch, UnknownSender (signed by
    another key), WrongRole, BadSignature, Tampered (signature fine but AES-GCM
    refuses: the header was re-signed or the epoch key is wrong), BadPadding (the
    decrypted plaintext is not in its one padded form). Replay and order
    are the reader's job (reader.py): one envelope alone cannot tell.
    """
    check_secret(epoch_key, "epoch key")
    header = parsed.header
    if header.conversation_id != conversation_id:
        raise WrongConversation()
    if header.epoch != epoch:
        raise WrongEpoch(f"expected epoch {epoch}, got {header.epoch}")
    if not hmac.compare_digest(header.sender_fingerprint, sender.public_key.fingerprint_digest):
        raise UnknownSender()
    if header.role != sender.role:
        raise WrongRole(f"sender is {sender.role}, envelope claims {header.role}")
    verify_signature(sender.public_key, parsed.signature, parsed.signature_input)
    try:
        padded = AESGCM(epoch_key).decrypt(parsed.nonce, parsed.ciphertext, parsed.aad)
    except InvalidTag as exc:
        raise Tampered() from exc
    plaintext = unpad(padded)
    return OpenedMessage(
        conversation_id=header.conversation_id,
        epoch=header.epoch,
        counter=header.counter,
        role=header.role,
        sender_fingerprint=header.sender_fingerprint.hex(),
        plaintext=plaintext,
    )


class EnvelopeSealer:
    """One sender's messages in one epoch: keeps the counter so it is never reused.

    A sender that reuses a counter has its later message refused as a replay, so a
    client must keep one sealer per epoch for as long as it sends in that epoch.
    """

    def __init__(
        self,
        *,
        epoch_key: bytes,
        conversation_id: str,
        epoch: int,
        role: SenderRole,
        signing_key: SigningKeyPair,
        next_counter: int = 0,
    ) -> None:
        self.epoch_key = check_secret(epoch_key, "epoch key")
        self.conversation_id = conversation_id
        self.epoch = epoch
        self.role = role
        self.signing_key = signing_key
        self.next_counter = next_counter

    def seal(self, plaintext: bytes) -> bytes:
        envelope = seal_envelope(
            plaintext,
            epoch_key=self.epoch_key,
            conversation_id=self.conversation_id,
            epoch=self.epoch,
            counter=self.next_counter,
            role=self.role,
            signing_key=self.signing_key,
        )
        self.next_counter += 1
        return envelope
