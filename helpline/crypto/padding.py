"""Padding of message plaintexts to fixed buckets, so lengths do not leak.

The server (and anyone watching the wire) sees each envelope's size. Without padding
that is the exact length of what a young person typed: "yes" and a long story look
different, and so do languages and answers to yes/no questions. Every plaintext is
padded before encryption to one of a few sizes:

    padded = u32be(len(plaintext)) || plaintext || zero bytes up to the bucket

    bucket = the smallest power of two >= 4 + len(plaintext), at least 256 bytes,
             at most MAX_PLAINTEXT_BYTES (65,536)

So a chat line of up to 252 bytes always travels as 256 bytes of plaintext; a
paragraph as 512 or 1,024. Opening refuses anything but this exact form (a size
that is not a bucket, a length beyond the bucket, a non-zero padding byte):
`bad_padding`, so each plaintext has exactly one padded form.
"""

from __future__ import annotations

from typing import Final

from helpline.crypto.constants import MAX_PLAINTEXT_BYTES
from helpline.crypto.errors import BadPadding, EncodingError

MIN_BUCKET: Final = 256
LENGTH_BYTES: Final = 4
# The longest plaintext that fits the largest bucket.
MAX_UNPADDED_BYTES: Final = MAX_PLAINTEXT_BYTES - LENGTH_BYTES


def bucket_size(length: int) -> int:
    """The padded size for a plaintext of `length` bytes."""
    if not 0 <= length <= MAX_UNPADDED_BYTES:
        raise EncodingError(f"a message plaintext is at most {MAX_UNPADDED_BYTES} bytes")
    size = MIN_BUCKET
    while size < LENGTH_BYTES + length:
        size *= 2
    return size


def pad(plaintext: bytes) -> bytes:
    size = bucket_size(len(plaintext))
    return len(plaintext).to_bytes(LENGTH_BYTES, "big") + plaintext + bytes(
        size - LENGTH_BYTES - len(plaintext))


def unpad(padded: bytes) -> bytes:
    size = len(padded)
    if size < MIN_BUCKET or size > MAX_PLAINTEXT_BYTES or size & (size - 1):
        raise BadPadding(f"a padded plaintext is a power of two from {MIN_BUCKET} bytes")
    length = int.from_bytes(padded[:LENGTH_BYTES], "big")
    if length > size - LENGTH_BYTES or bucket_size(length) != size:
        raise BadPadding("the padded length does not match its bucket")
    end = LENGTH_BYTES + length
    if padded[end:].lstrip(b"\x00"):
        raise BadPadding("padding bytes must be zero")
    return padded[LENGTH_BYTES:end]
