"""Sealing and opening message envelopes; every kind of tampering is refused."""

from __future__ import annotations

import pytest

from helpline.crypto.envelope import (
    MIN_ENVELOPE_BYTES,
    ROLE_CODES,
    EnvelopeSealer,
    Sender,
    SenderRole,
    message_aad,
    message_signature_input,
    open_envelope,
    parse_envelope,
    seal_envelope,
)
from helpline.crypto.errors import (
    BadSignature,
    CryptoError,
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
from helpline.crypto.keys import SigningKeyPair, generate_epoch_key

CONV = "Xq3m9Zt0Q1uVb8kLr2s7Yw"
OTHER_CONV = "Pd7Rk2Nw8Hc5Tj1Lm4Vx9A"
KEY = generate_epoch_key()
YOUTH = SigningKeyPair.generate()
COUNSELLOR = SigningKeyPair.generate()
YOUTH_SENDER = Sender(YOUTH.public, SenderRole.YOUTH)
COUNSELLOR_SENDER = Sender(COUNSELLOR.public, SenderRole.COUNSELLOR)
N = len(CONV)


def seal(plaintext: bytes = b"hoi", **change: object) -> bytes:
    args: dict[str, object] = {
        "epoch_key": KEY,
        "conversation_id": CONV,
        "epoch": 1,
        "counter": 0,
        "role": SenderRole.YOUTH,
        "signing_key": YOUTH,
        **change,
    }
    return seal_envelope(plaintext, **args)  # type: ignore[arg-type]


def open_(envelope: bytes, **change: object) -> bytes:
    args: dict[str, object] = {
        "epoch_key": KEY,
        "conversation_id": CONV,
        "epoch": 1,
        "sender": YOUTH_SENDER,
        **change,
    }
    return open_envelope(envelope, **args).plaintext  # type: ignore[arg-type]


def resign(envelope: bytes, signer: SigningKeyPair, start: int, new: bytes) -> bytes:
    """A key holder changes header bytes and signs again: only AES-GCM can catch it."""
    body = bytearray(envelope[:-64])
    body[start : start + len(new)] = new
    return bytes(body) + signer.sign(message_signature_input(bytes(body)))


def test_round_trip() -> None:
    envelope = seal("Waar kan ik heen? 🙂".encode(), counter=7, epoch=3)
    message = open_envelope(
        envelope, epoch_key=KEY, conversation_id=CONV, epoch=3, sender=YOUTH_SENDER
    )
    assert message.plaintext.decode() == "Waar kan ik heen? 🙂"
    assert message.counter == 7 and message.epoch == 3 and message.role is SenderRole.YOUTH
    assert message.sender_fingerprint == YOUTH.public.fingerprint
    assert message.conversation_id == CONV


def test_layout() -> None:
    envelope = seal(b"abc", counter=0x01020304, epoch=0x0A0B0C0D)
    assert envelope[:4] == bytes([2, 1, ROLE_CODES[SenderRole.YOUTH], N])
    assert envelope[4 : 4 + N] == CONV.encode()
    assert envelope[4 + N : 8 + N] == bytes([0x0A, 0x0B, 0x0C, 0x0D])
    assert envelope[8 + N : 12 + N] == bytes([1, 2, 3, 4])
    assert envelope[12 + N : 44 + N] == YOUTH.public.fingerprint_digest
    assert len(envelope) == 44 + N + 12 + 256 + 16 + 64  # "abc" padded to 256
    parsed = parse_envelope(envelope)
    assert parsed.header_bytes == envelope[: 44 + N]
    assert parsed.nonce == envelope[44 + N : 56 + N]
    assert parsed.aad == message_aad(envelope[: 44 + N])
    assert parsed.signature_input == message_signature_input(envelope[:-64])


def test_nonces_are_fresh() -> None:
    assert parse_envelope(seal()).nonce != parse_envelope(seal()).nonce


def test_empty_and_largest_bodies() -> None:
    assert open_(seal(b"")) == b""
    big = b"x" * (65_536 - 4)  # the largest bucket, less the length prefix
    assert open_(seal(big)) == big
    assert len(seal(big)) == 44 + N + 12 + 65_536 + 16 + 64
    with pytest.raises(EncodingError):
        seal(big + b"x")


def _region(index: int) -> str:
    if index == 0:
        return "version"
    if index == 1:
        return "suite"
    if index == 2:
        return "role"
    if index == 3:
        return "length"
    if index < 4 + N:
        return "conversation"
    if index < 8 + N:
        return "epoch"
    if index < 12 + N:
        return "counter"
    if index < 44 + N:
        return "fingerprint"
    return "signed"  # nonce, ciphertext, signature


ALLOWED: dict[str, tuple[type[CryptoError], ...]] = {
    "version": (UnsupportedVersion,),
    "suite": (UnsupportedSuite,),
    # Another valid role code is a role the sender does not have; others are garbage.
    "role": (WrongRole, MalformedEnvelope),
    "length": (MalformedEnvelope, WrongConversation),
    "conversation": (WrongConversation, MalformedEnvelope),
    "epoch": (WrongEpoch,),
    "counter": (BadSignature,),
    "fingerprint": (UnknownSender,),
    "signed": (BadSignature,),
}


def test_every_flipped_bit_is_refused_with_the_right_error() -> None:
    envelope = seal(b"a message body")
    for index in range(len(envelope)):
        region = _region(index)
        for bit in range(8):
            bad = bytearray(envelope)
            bad[index] ^= 1 << bit
            with pytest.raises(ALLOWED[region]):
                open_(bytes(bad))


def test_wrong_conversation_and_epoch() -> None:
    envelope = seal()
    with pytest.raises(WrongConversation):
        open_(envelope, conversation_id=OTHER_CONV)
    with pytest.raises(WrongEpoch):
        open_(envelope, epoch=2)


def test_wrong_signer() -> None:
    envelope = seal()
    with pytest.raises(UnknownSender):
        open_(envelope, sender=COUNSELLOR_SENDER)
    # The counsellor signs a message with the youth's fingerprint in the header.
    forged = resign(envelope, COUNSELLOR, 0, b"")
    with pytest.raises(BadSignature):
        open_(forged)


def test_wrong_role() -> None:
    envelope = seal(role=SenderRole.COUNSELLOR)  # the youth's key claims "counsellor"
    with pytest.raises(WrongRole):
        open_(envelope)


def test_changed_counter_re_signed_by_sender_is_tampered() -> None:
    forged = resign(seal(counter=3), YOUTH, 8 + N, (4).to_bytes(4, "big"))
    with pytest.raises(Tampered):
        open_(forged)


def test_moved_conversation_or_epoch_re_signed_is_tampered() -> None:
    moved = resign(seal(), YOUTH, 4, OTHER_CONV.encode())
    with pytest.raises(Tampered):
        open_(moved, conversation_id=OTHER_CONV)
    moved = resign(seal(), YOUTH, 4 + N, (2).to_bytes(4, "big"))
    with pytest.raises(Tampered):
        open_(moved, epoch=2)


def test_reattributed_ciphertext_is_tampered() -> None:
    # The counsellor (who holds the epoch key) claims the youth's ciphertext as theirs.
    envelope = seal()
    body = bytearray(envelope[:-64])
    body[2] = ROLE_CODES[SenderRole.COUNSELLOR]
    body[12 + N : 44 + N] = COUNSELLOR.public.fingerprint_digest
    forged = bytes(body) + COUNSELLOR.sign(message_signature_input(bytes(body)))
    with pytest.raises(Tampered):
        open_(forged, sender=COUNSELLOR_SENDER)


def test_wrong_epoch_key_is_tampered() -> None:
    with pytest.raises(Tampered):
        open_(seal(), epoch_key=generate_epoch_key())


def test_signature_does_not_cover_a_different_label() -> None:
    # A plain Ed25519 signature over the raw envelope (no label) is refused.
    envelope = seal()
    forged = envelope[:-64] + YOUTH.sign(envelope[:-64])
    with pytest.raises(BadSignature):
        open_(forged)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01",
        b"\x02\x01",
        bytes([2, 1, 1, N]) + b"x" * 50,
        bytes([2, 1, 1, 0]) + b"x" * 200,
        bytes([2, 1, 1, 200]) + b"x" * 200,
        bytes([2, 1, 1, N]) + "é".encode() * 11 + b"x" * 200,
    ],
)
def test_malformed(data: bytes) -> None:
    with pytest.raises(MalformedEnvelope):
        parse_envelope(data)


def test_minimum_size() -> None:
    assert len(seal(b"", conversation_id="c")) == MIN_ENVELOPE_BYTES


def test_bad_inputs() -> None:
    with pytest.raises(InvalidKey):
        seal(epoch_key=b"short")
    with pytest.raises(EncodingError):
        seal(counter=2**32)
    with pytest.raises(EncodingError):
        seal(conversation_id="not valid")


def test_sealer_counts() -> None:
    sealer = EnvelopeSealer(
        epoch_key=KEY, conversation_id=CONV, epoch=1, role=SenderRole.YOUTH, signing_key=YOUTH
    )
    counters = [parse_envelope(sealer.seal(b"m")).header.counter for _ in range(3)]
    assert counters == [0, 1, 2]
    assert sealer.next_counter == 3
