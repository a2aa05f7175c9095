"""Padding to fixed buckets: lengths do not leak, and each plaintext has one form."""

from __future__ import annotations

import pytest

from helpline.crypto.envelope import Sender as EnvelopeSender
from helpline.crypto.envelope import SenderRole, open_envelope, seal_envelope
from helpline.crypto.errors import BadPadding, EncodingError
from helpline.crypto.keys import SigningKeyPair, generate_epoch_key
from helpline.crypto.padding import MAX_UNPADDED_BYTES, bucket_size, pad, unpad


@pytest.mark.parametrize(("length", "bucket"), [
    (0, 256), (1, 256), (252, 256), (253, 512), (508, 512), (509, 1024),
    (16_380, 16_384), (16_381, 32_768), (MAX_UNPADDED_BYTES, 65_536)])
def test_buckets(length: int, bucket: int) -> None:
    assert bucket_size(length) == bucket
    padded = pad(b"a" * length)
    assert len(padded) == bucket
    assert unpad(padded) == b"a" * length


def test_too_long() -> None:
    with pytest.raises(EncodingError):
        pad(b"a" * (MAX_UNPADDED_BYTES + 1))


def test_short_and_long_messages_look_alike_on_the_wire() -> None:
    key, signer = generate_epoch_key(), SigningKeyPair.generate()

    def size(text: bytes) -> int:
        return len(seal_envelope(text, epoch_key=key, conversation_id="c", epoch=1,
                                 counter=0, role=SenderRole.YOUTH, signing_key=signer))
    assert size(b"ja") == size(b"I am scared, he keeps my passport and says I owe him")


@pytest.mark.parametrize("padded", [
    b"",  # not a bucket
    bytes(255),  # not a bucket
    bytes(300),  # not a power of two
    (5).to_bytes(4, "big") + b"hello" + b"\x00" * 246 + b"\x01",  # non-zero padding
    (253).to_bytes(4, "big") + bytes(252),  # length beyond the bucket
    (3).to_bytes(4, "big") + b"abc" + bytes(505),  # 3 bytes belong in 256, not 512
    bytes(131_072),  # beyond the largest bucket
])
def test_non_canonical_padding_is_refused(padded: bytes) -> None:
    with pytest.raises(BadPadding):
        unpad(padded)


def test_a_signed_body_with_bad_padding_is_refused() -> None:
    # A sender (any key holder) who seals unpadded bytes directly is caught on opening.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from helpline.crypto.envelope import (
        EnvelopeHeader,
        message_aad,
        message_signature_input,
    )
    key, signer = generate_epoch_key(), SigningKeyPair.generate()
    header = EnvelopeHeader(SenderRole.YOUTH, "c", 1, 0,
                            signer.public.fingerprint_digest).to_bytes()
    nonce = bytes(12)
    body = header + nonce + AESGCM(key).encrypt(nonce, bytes(300), message_aad(header))
    envelope = body + signer.sign(message_signature_input(body))
    with pytest.raises(BadPadding):
        open_envelope(envelope, epoch_key=key, conversation_id="c", epoch=1,
                      sender=EnvelopeSender(signer.public, SenderRole.YOUTH))
