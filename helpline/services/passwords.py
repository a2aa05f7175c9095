"""Password hashing with scrypt (memory-hard), from the `cryptography` package.

Stored form: `scrypt$<log2 N>$<r>$<p>$<salt b64>$<hash b64>`, so the cost can be raised
later without breaking existing hashes. Hashing runs in a worker thread: at the
default cost it takes about 0.1 s and 32 MiB, which must not stall the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import os

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

R = 8
P = 1
LENGTH = 32


def _derive(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=LENGTH, n=2**log2_n, r=r, p=p).derive(password.encode())


def hash_password_sync(password: str, log2_n: int) -> str:
    salt = os.urandom(16)
    digest = _derive(password, salt, log2_n, R, P)
    b64 = base64.b64encode
    return f"scrypt${log2_n}${R}${P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password_sync(password: str, stored: str) -> bool:
    try:
        scheme, log2_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _derive(password, base64.b64decode(salt), int(log2_n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


async def hash_password(password: str, log2_n: int) -> str:
    return await asyncio.to_thread(hash_password_sync, password, log2_n)


async def verify_password(password: str, stored: str) -> bool:
    return await asyncio.to_thread(verify_password_sync, password, stored)


# A hash to check against when the account does not exist, so that a wrong username
# takes as long as a wrong password and names cannot be probed by timing.
def dummy_hash(log2_n: int) -> str:
    return hash_password_sync(base64.b64encode(os.urandom(12)).decode(), log2_n)
