"""Password hashing with scrypt (memory-hard), from the `cryptography` package.

Stored form: `scrypt$<log2 N>$<r>$<p>$<salt b64>$<hash b64>`, so the cost can be raised
later without breaking existing hashes: a hash below the configured cost is re-hashed
at the next successful login (services/accounts.py). Hashing runs in a worker thread:
at the default cost (N=2^17, r=8, p=1, OWASP's current minimum) it takes about 0.3-0.6 s
and 128 MiB, which must not stall the event loop.
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
# What a stored hash may ask for: a hash edited in Redis must not make a login
# allocate gigabytes (2^20 x 128 x 8 bytes is already 1 GiB).
MAX_LOG2_N = 20
MAX_R = 16
MAX_P = 4


def _derive(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=LENGTH, n=2**log2_n, r=r, p=p).derive(password.encode())


def hash_password_sync(password: str, log2_n: int) -> str:
    salt = os.urandom(16)
    digest = _derive(password, salt, log2_n, R, P)
    b64 = base64.b64encode
    return f"scrypt${log2_n}${R}${P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password_sync(password: str, stored: str) -> bool:
    try:
        log2_n, r, p, salt, digest = _parts(stored)
        expected = base64.b64decode(digest, validate=True)
        actual = _derive(password, base64.b64decode(salt, validate=True), log2_n, r, p)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _parts(stored: str) -> tuple[int, int, int, str, str]:
    scheme, log2_n, r, p, salt, digest = stored.split("$")
    if scheme != "scrypt" or not all(x.isdigit() for x in (log2_n, r, p)):
        raise ValueError("not an scrypt hash")
    cost = int(log2_n), int(r), int(p)
    if not (1 <= cost[0] <= MAX_LOG2_N and 1 <= cost[1] <= MAX_R and 1 <= cost[2] <= MAX_P):
        raise ValueError("scrypt cost out of range")
    return cost[0], cost[1], cost[2], salt, digest


def needs_rehash(stored: str, log2_n: int) -> bool:
    """True if `stored` is weaker than the configured cost (or not readable)."""
    try:
        have_n, r, p, _, _ = _parts(stored)
    except ValueError:
        return True
    return have_n < log2_n or r < R or p < P


async def hash_password(password: str, log2_n: int) -> str:
    return await asyncio.to_thread(hash_password_sync, password, log2_n)


async def verify_password(password: str, stored: str) -> bool:
    return await asyncio.to_thread(verify_password_sync, password, stored)


# A hash to check against when the account does not exist, so that a wrong username
# takes as long as a wrong password and names cannot be probed by timing.
def dummy_hash(log2_n: int) -> str:
    return hash_password_sync(base64.b64encode(os.urandom(12)).decode(), log2_n)
