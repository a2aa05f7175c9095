"""What several `helpline` commands share: the store (REDIS_URL or the embedded
Redis), the account and key-admin services built from the settings, and reading the
key files' passphrase.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from helpline.config import Settings
from helpline.embedded_redis import EmbeddedRedis, start_embedded_redis
from helpline.services.accounts import AccountPolicy, AccountService
from helpline.services.keyadmin import KeyAdmin, KeyPolicy
from helpline.services.keyfolder import local_actor
from helpline.services.policeadmin import PoliceKeyAdmin
from helpline.services.ports import SystemClock
from helpline.storage.redis_store import RedisStore, connect_redis


def resolve_redis(settings: Settings) -> tuple[Settings, EmbeddedRedis | None]:
    if settings.redis_url:
        return settings, None
    embedded = start_embedded_redis(settings.data_dir)
    return settings.with_overrides(redis_url=embedded.url), embedded


@contextlib.asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[RedisStore]:
    """The store for a command: REDIS_URL, or the embedded Redis (started if needed and
    stopped again if this command started it)."""
    settings, embedded = resolve_redis(settings)
    assert settings.redis_url
    store = RedisStore(connect_redis(settings.redis_url, 4), settings.key_prefix)
    try:
        yield store
    finally:
        await store.close()
        if embedded:
            embedded.stop()


def account_service(store: RedisStore, settings: Settings) -> AccountService:
    return AccountService(store, SystemClock(), AccountPolicy(
        session_ttl_seconds=settings.session_ttl_seconds,
        login_max_failures=settings.login_max_failures,
        login_lock_seconds=settings.login_lock_seconds,
        scrypt_log2_n=settings.scrypt_log2_n,
    ))


def read_passphrase(path: str | None, prompt: str = "key passphrase: ") -> bytes:
    path = path or os.environ.get("HELPLINE_KEYS_PASSPHRASE_FILE")
    if path:
        return Path(path).read_bytes().rstrip(b"\r\n")
    if sys.stdin.isatty():
        return getpass.getpass(prompt).encode()
    return sys.stdin.readline().rstrip("\n").encode()


def key_admin(settings: Settings, store: RedisStore, passphrase: bytes) -> KeyAdmin:
    return KeyAdmin(store, settings.resolved_keys_dir, passphrase, SystemClock(),
                    KeyPolicy(period_days=settings.key_period_days,
                              police_unit=settings.police_unit,
                              staff_statement_days=settings.staff_statement_days,
                              police_statement_days=settings.police_statement_days),
                    actor=local_actor())


def police_admin(settings: Settings, store: RedisStore | None, passphrase: bytes,
                 keys_dir: Path | None = None) -> PoliceKeyAdmin:
    return PoliceKeyAdmin(store, keys_dir or settings.resolved_keys_dir, passphrase,
                          SystemClock(), settings.police_unit, actor=local_actor())
