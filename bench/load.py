"""What a running helpline costs per message and per waiting young person (issue 11, part 3).

Starts everything itself on 127.0.0.1 (an embedded Redis in a temporary folder, a bare
python-socketio relay and `helpline serve` processes on free ports) and measures each
row of the issue's table against a baseline measured in the same run:

1. server CPU per message, one process, closed loop: helpline vs the bare relay;
2. Redis fan-out (1 and 2 processes) vs in-process fan-out, CPU per message;
3. p50/p99/max delivery latency, open loop: N active conversations at R msg/s in total
   plus M idle widgets, one process;
4. memory per idle widget: the server's RSS growth / M (the relay's, as baseline);
5. Q young people opening into a queue that already holds Q (a counsellor watching);
6. purge of P closed conversations, through the real purge job.

All clients speak Engine.IO v4 / Socket.IO v5 over aiohttp websockets directly (no
python-socketio client): cheap enough to drive 10,000 idle widgets from two worker
processes, and the same framing for the helpline and the relay.

Run: `.venv/bin/python bench/load.py [--quick] [--json] [--help]` or `./dev bench load`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import json
import math
import os
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
BODY_BYTES = 300
HOST = "127.0.0.1"  # the only address this benchmark ever connects to
PASSWORD = secrets.token_urlsafe(16)


# --------------------------------------------------------------------------- helpers

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of another process (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_kb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return float(line.split()[1])
    except OSError:
        pass
    return math.nan


def pct(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def raise_file_limit() -> int:
    """Soft open-file limit up to the hard one: every widget is a socket on both ends."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# ----------------------------------------------------------- Socket.IO over aiohttp

class SocketError(Exception):
    pass


class Sock:
    """One Engine.IO v4 websocket with one Socket.IO v5 namespace, spoken by hand.

    Packets are text: `2`/`3` ping/pong, `40/ns,{..}` connect, `42/ns,[event, data]`
    an event, `42/ns,7[event, data]` one that wants ack 7, `43/ns,7[data]` the ack.
    Events are parsed only when someone listens, so a widget that is pushed every
    queue change costs its worker little.
    """

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, ns: str) -> None:
        self.ws, self.ns = ws, ns
        self.prefix = f"{ns},"
        self.acks: dict[int, asyncio.Future[Any]] = {}
        self.next_id = 0
        self.on_event: Callable[[str, Any, float], None] | None = None
        self.connected: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, session: aiohttp.ClientSession, port: int, ns: str,
                   auth: dict[str, str] | None = None, timeout: float = 30) -> Sock:
        ws = await session.ws_connect(
            f"http://{HOST}:{port}/socket.io/?EIO=4&transport=websocket",
            headers={"Origin": f"http://{HOST}:{port}"}, autoping=True, compress=0,
            max_msg_size=0, timeout=aiohttp.ClientWSTimeout(ws_close=2))
        first = await asyncio.wait_for(ws.receive(), timeout)
        if first.type != aiohttp.WSMsgType.TEXT or not str(first.data).startswith("0"):
            await ws.close()
            raise SocketError(f"no Engine.IO open packet: {first.data!r}")
        sock = cls(ws, ns)
        await ws.send_str(f"40{ns}," + (json.dumps(auth) if auth else ""))
        try:
            await asyncio.wait_for(sock.connected, timeout)
        except BaseException:
            await sock.close()
            raise
        return sock

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                data: str = msg.data
                if data == "2":
                    await self.ws.send_str("3")
                    continue
                if len(data) < 2 or data[0] != "4":
                    continue
                kind, rest = data[1], data[2:]
                if not rest.startswith(self.prefix):
                    continue
                rest = rest[len(self.prefix):]
                if kind == "3":
                    i = 0
                    while i < len(rest) and rest[i].isdigit():
                        i += 1
                    fut = self.acks.pop(int(rest[:i]), None)
                    if fut is not None and not fut.done():
                        fut.set_result(json.loads(rest[i:])[0])
                elif kind == "2":
                    if self.on_event is not None:
                        at = time.perf_counter()
                        name, payload = json.loads(rest)
                        self.on_event(name, payload, at)
                elif kind == "0" and not self.connected.done():
                    self.connected.set_result(json.loads(rest) if rest else {})
                elif kind == "4" and not self.connected.done():
                    self.connected.set_exception(SocketError(f"connect refused: {rest}"))
        except (aiohttp.ClientError, ValueError, RuntimeError):
            return  # the socket broke or spoke nonsense: every waiter fails below
        finally:
            error = SocketError("connection closed")
            for fut in [*self.acks.values(), self.connected]:
                if not fut.done():
                    fut.set_exception(error)
            self.acks.clear()

    async def send(self, event: str, payload: dict[str, Any]) -> asyncio.Future[Any]:
        """Emit with an ack; returns the ack's future (already sent when this returns)."""
        self.next_id += 1
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.acks[self.next_id] = fut
        await self.ws.send_str(f"42{self.prefix}{self.next_id}"
                               + json.dumps([event, payload], separators=(",", ":")))
        return fut

    async def call(self, event: str, payload: dict[str, Any], timeout: float = 30) -> Any:
        ack = await asyncio.wait_for(await self.send(event, payload), timeout)
        if isinstance(ack, dict) and "error" in ack:
            raise SocketError(f"{event}: {ack['error']}")
        return ack["ok"] if isinstance(ack, dict) and "ok" in ack else ack

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 3)
        self.reader.cancel()
        # wait(), not `await self.reader`: the reader's end must not raise here, but a
        # cancellation of the caller (Ctrl-C, SIGTERM) must.
        await asyncio.wait([self.reader])


def new_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True))


async def close_all(socks: list[Sock]) -> None:
    for i in range(0, len(socks), 500):
        await asyncio.gather(*(s.close() for s in socks[i:i + 500]), return_exceptions=True)


# ---------------------------------------------------------------- the bare relay

def relay_main(port: int) -> None:
    """The baseline server: one aiohttp + python-socketio app of the helpline's shape.

    One namespace; `join` puts a socket in a room (the conversation); `send` with a
    base64url `body` gets a `{"ok": {"seq", "sent_at"}}` ack and is relayed as
    `message` to the other socket of the room. Same AsyncServer options as the
    helpline (no cookie, handlers in order, same frame cap); the body text is relayed
    as it is, not decoded.
    """
    import socketio
    from aiohttp import web

    origin = f"http://{HOST}:{port}"
    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins=[origin],
                               cookie=None, async_handlers=False, logger=False,
                               engineio_logger=False, max_http_buffer_size=65536)

    class Relay(socketio.AsyncNamespace):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__("/relay")
            self.room_of: dict[str, str] = {}
            self.seq: dict[str, int] = {}

        async def on_join(self, sid: str, data: Any) -> dict[str, Any]:
            room = str(data["room"])
            await self.enter_room(sid, room)
            self.room_of.setdefault(sid, room)
            return {"ok": {}}

        async def on_send(self, sid: str, data: Any) -> dict[str, Any]:
            room, body = self.room_of[sid], data["body"]
            if not isinstance(body, str):
                return {"error": {"code": "invalid_payload", "message": "body"}}
            seq = self.seq[room] = self.seq.get(room, 0) + 1
            now = int(time.time() * 1000)
            await self.emit("message", {"conversation_id": room, "seq": seq, "sent_at": now,
                                        "sender_role": "youth", "body": body},
                            room=room, skip_sid=sid)
            return {"ok": {"seq": seq, "sent_at": now}}

        def on_disconnect(self, sid: str, *args: Any) -> None:
            room = self.room_of.pop(sid, None)
            if room is not None:
                self.seq.pop(room, None)

    sio.register_namespace(Relay())
    app = web.Application()
    sio.attach(app)
    web.run_app(app, host=HOST, port=port, print=None, access_log=None)


# ------------------------------------------------------------------ widget workers

async def widget_open(session: aiohttp.ClientSession, port: int, ns: str, event: str,
                      payload: dict[str, Any]) -> Sock:
    sock = await Sock.open(session, port, ns)
    try:
        await sock.call(event, payload, timeout=120)
    except BaseException:
        await sock.close()
        raise
    return sock


async def worker_main() -> None:
    """A process of idle widgets, driven by one JSON command per line on stdin.

    {"cmd": "open", ...}: open `count` widgets (connect, `event` with `payload`, ack)
    with `concurrency` at a time and keep them connected, answering pings;
    {"cmd": "churn", ...}: open and `end` conversations, closing each socket after;
    {"cmd": "close"}: close every widget of this worker;
    EOF: close everything and exit. Each command answers one JSON line on stdout.
    """
    raise_file_limit()
    loop = asyncio.get_running_loop()
    socks: list[Sock] = []
    async with new_session() as session:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            cmd = json.loads(line)
            if cmd["cmd"] == "close":  # before the server stops: it need not wait for them
                started = time.perf_counter()
                await close_all(socks)
                socks.clear()
                print(json.dumps({"ok": 0, "failed": 0, "errors": [],
                                  "elapsed": time.perf_counter() - started}), flush=True)
                continue
            todo: list[int] = list(range(int(cmd["count"])))
            errors: list[str] = []
            started = time.perf_counter()

            async def one(c: dict[str, Any] = cmd, todo: list[int] = todo,
                          errors: list[str] = errors) -> None:
                while todo:
                    todo.pop()
                    payload = c["payload"]
                    if payload == {"room": "*"}:  # the relay: a room of its own
                        payload = {"room": secrets.token_urlsafe(16)}
                    try:
                        sock = await widget_open(session, c["port"], c["ns"], c["event"],
                                                 payload)
                        if c["cmd"] == "churn":
                            await sock.call("end", {})
                            await sock.close()
                        else:
                            socks.append(sock)
                    except Exception as exc:
                        errors.append(f"{type(exc).__name__}: {exc}"[:200])

            await asyncio.gather(*(one() for _ in range(int(cmd["concurrency"]))))
            print(json.dumps({"ok": int(cmd["count"]) - len(errors), "failed": len(errors),
                              "elapsed": time.perf_counter() - started,
                              "errors": errors[:3]}), flush=True)
        await close_all(socks)


@dataclass
class Worker:
    proc: asyncio.subprocess.Process

    @classmethod
    async def start(cls) -> Worker:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--worker", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
        return cls(proc)

    async def command(self, timeout: float, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError("a widget worker died")
        reply: dict[str, Any] = json.loads(line)
        return reply

    async def close_widgets(self, timeout: float) -> None:
        await self.command(timeout, cmd="close")

    async def stop(self) -> None:
        if self.proc.returncode is not None:
            return
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


async def spread(workers: list[Worker], count: int, timeout: float, **cmd: Any
                 ) -> dict[str, Any]:
    """Split one command over the workers; elapsed is the slowest worker's."""
    shares = [count // len(workers) + (i < count % len(workers)) for i in range(len(workers))]
    replies = await asyncio.gather(*(w.command(timeout, count=n, **cmd)
                                     for w, n in zip(workers, shares, strict=True) if n))
    out = {"ok": sum(r["ok"] for r in replies), "failed": sum(r["failed"] for r in replies),
           "elapsed": max(r["elapsed"] for r in replies),
           "errors": [e for r in replies for e in r["errors"]][:3]}
    if out["failed"]:
        print(f"  ! {out['failed']} widgets failed: {out['errors']}", file=sys.stderr)
    return out


# ------------------------------------------------------------------- processes

@dataclass
class Stack:
    """Everything this run started; `stop_all` ends it, whatever happened."""

    tmp: Path
    redis_url: str = ""
    redis_pid: int = 0
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    early: dict[str, tuple[str, Server]] = field(default_factory=dict)  # by part
    logs: list[Path] = field(default_factory=list)

    def spawn(self, argv: list[str], env: dict[str, str], name: str
              ) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.tmp / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    cwd=self.tmp, start_new_session=True)
        self.procs.append(proc)
        self.logs.append(log)
        return proc, log

    def helpline(self, name: str, prefix: str, extra: dict[str, str] | None = None
                 ) -> Server:
        port = free_port()
        data = self.tmp / f"data-{prefix.rstrip(':')}"
        data.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
        env.update({"REDIS_URL": self.redis_url, "HELPLINE_KEY_PREFIX": prefix,
                    "HELPLINE_DATA_DIR": str(data), "HELPLINE_SCRYPT_LOG2_N": "10",
                    "HELPLINE_MAX_CONVERSATIONS": "1000",
                    "HELPLINE_LANGUAGE_HOLD_SECONDS": "0",
                    "HELPLINE_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)})
        env.update(extra or {})
        proc, log = self.spawn([sys.executable, "-m", "helpline", "serve", "--host", HOST,
                                "--port", str(port)], env, name)
        return Server(name, port, proc, log)

    def relay(self, name: str) -> Server:
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc, log = self.spawn([sys.executable, __file__, "--relay-server", str(port)],
                               env, name)
        return Server(name, port, proc, log)

    def stop_all(self) -> None:
        for proc in self.procs:
            stop(proc)

    def tail_logs(self) -> None:
        for log in self.logs:
            if log.exists() and log.stat().st_size:
                print(f"--- {log.name} ---\n{log.read_text()[-2000:]}", file=sys.stderr)


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log.read_text()[-3000:]}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start in {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ready(*servers: Server) -> list[Server]:
    for s in servers:
        s.wait_ready()
    return list(servers)


# ------------------------------------------------------------------- helpline set-up

async def make_counsellors(redis_url: str, prefix: str, n: int) -> list[str]:
    from helpline.domain.roles import Role
    from helpline.services.accounts import AccountPolicy, AccountService
    from helpline.services.ports import SystemClock
    from helpline.storage.redis_store import RedisStore, connect_redis

    store = RedisStore(connect_redis(redis_url, 4), prefix)
    accounts = AccountService(store, SystemClock(), AccountPolicy(
        session_ttl_seconds=3600, login_max_failures=5, login_lock_seconds=900,
        scrypt_log2_n=10))
    names = [f"counsellor{i + 1}" for i in range(n)]
    try:
        for name in names:
            await accounts.add_user(name, Role.COUNSELLOR, PASSWORD)
    finally:
        await store.close()
    return names


async def staff_sock(session: aiohttp.ClientSession, port: int, name: str) -> Sock:
    async with session.post(f"http://{HOST}:{port}/api/login",
                            json={"username": name, "password": PASSWORD}) as resp:
        if resp.status != 200:
            raise RuntimeError(f"login {name}: HTTP {resp.status} {await resp.text()}")
        token = (await resp.json())["token"]
    return await Sock.open(session, port, "/staff", {"token": token})


@dataclass
class Pairs:
    """C conversations: a young person's socket each, and counsellors' sockets."""

    youths: list[Sock]
    cids: list[str]
    staff: list[Sock]
    owner: list[Sock]  # owner[i] receives conversation i

    async def close(self) -> None:
        await close_all(self.youths + self.staff)


async def helpline_pairs(session: aiohttp.ClientSession, ports: tuple[int, int],
                         names: list[str], n: int) -> Pairs:
    """Open and accept n conversations, one at a time (so the queue stays short:
    what the setup costs in queue pushes must not depend on n). Young people connect
    to ports[0], counsellors to ports[1] (another process, with two)."""
    staff = await asyncio.gather(*(staff_sock(session, ports[1], name) for name in names))
    youths: list[Sock | None] = [None] * n
    cids = [""] * n
    sem = asyncio.Semaphore(20)

    async def one(i: int) -> None:
        async with sem:
            youth = youths[i] = await Sock.open(session, ports[0], "/youth")
            # Set-up, not measured: a server busy with many idle widgets may be slow.
            cid = (await youth.call("open", {}, timeout=120))["conversation_id"]
            await staff[i % len(staff)].call("accept", {"conversation_id": cid},
                                             timeout=120)
            cids[i] = cid

    results = await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
    pairs = Pairs([y for y in youths if y is not None], cids, list(staff),
                  [staff[i % len(staff)] for i in range(n)])
    bad = [r for r in results if isinstance(r, BaseException)]
    if bad:
        await pairs.close()
        raise RuntimeError(f"{len(bad)} of {n} conversations failed to start: {bad[0]!r}")
    return pairs


async def relay_pairs(session: aiohttp.ClientSession, port: int, staff_n: int, n: int
                      ) -> Pairs:
    staff = [await Sock.open(session, port, "/relay") for _ in range(staff_n)]
    youths, cids, owner = [], [], []
    for i in range(n):
        room = secrets.token_urlsafe(16)
        youth = await Sock.open(session, port, "/relay")
        await youth.call("join", {"room": room})
        await staff[i % staff_n].call("join", {"room": room})
        youths.append(youth)
        cids.append(room)
        owner.append(staff[i % staff_n])
    return Pairs(youths, cids, staff, owner)


def listen(pairs: Pairs, on_message: Callable[[str, int, float], None]) -> None:
    def handler(name: str, data: Any, at: float) -> None:
        if name == "message":
            on_message(str(data["conversation_id"]), int(data["seq"]), at)
    for s in pairs.staff:
        s.on_event = handler


# --------------------------------------------------------------- 1 + 2: closed loop

async def closed_loop(pairs: Pairs, pids: list[int], messages: int, window: int,
                      redis_pid: int) -> dict[str, float]:
    """Each young person sends `messages` bodies, at most `window` undelivered."""
    sent: dict[tuple[str, int], float] = {}
    delivered: dict[tuple[str, int], float] = {}
    slots = {cid: asyncio.Semaphore(window) for cid in pairs.cids}
    done = asyncio.Event()
    target = messages * len(pairs.cids)

    def on_message(cid: str, seq: int, at: float) -> None:
        if cid in slots and (cid, seq) not in delivered:
            delivered[(cid, seq)] = at
            slots[cid].release()
            if len(delivered) >= target:
                done.set()

    listen(pairs, on_message)
    bodies = [b64url(os.urandom(BODY_BYTES)) for _ in range(64)]

    async def send_all(youth: Sock, cid: str) -> None:
        for i in range(messages):
            await slots[cid].acquire()
            t = time.perf_counter()
            ack = await youth.call("send", {"body": bodies[i % len(bodies)]})
            sent[(cid, ack["seq"])] = t

    cpu0, redis0 = sum(proc_cpu(p) for p in pids), proc_cpu(redis_pid)
    start = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(
        *(send_all(y, c) for y, c in zip(pairs.youths, pairs.cids, strict=True)),
        done.wait()), 300)
    wall = time.perf_counter() - start
    cpu = sum(proc_cpu(p) for p in pids) - cpu0
    redis_cpu = proc_cpu(redis_pid) - redis0
    lat = [(delivered[k] - sent[k]) * 1000 for k in delivered if k in sent]
    return {"cpu_ms_per_msg": cpu * 1000 / target, "msgs_per_s": target / wall,
            "redis_cpu_ms_per_msg": redis_cpu * 1000 / target,
            "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}


async def rows_closed_loop(args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    relay = stack.relay("relay")
    prefixes = {k: f"b{secrets.token_hex(3)}{k}:" for k in ("local", "redis1", "redis2")}
    local = stack.helpline("helpline-local", prefixes["local"], {"HELPLINE_FANOUT": "local"})
    redis1 = stack.helpline("helpline-redis1", prefixes["redis1"],
                            {"HELPLINE_FANOUT": "redis"})
    redis2 = [stack.helpline(f"helpline-redis2-{i}", prefixes["redis2"],
                             {"HELPLINE_FANOUT": "redis", "HELPLINE_JOBS": "on" if i else "off"})
              for i in range(2)]
    ready(relay, local, redis1, *redis2)
    runs: dict[str, list[dict[str, float]]] = {"relay": [], "local": [], "redis1": [],
                                               "redis2": []}
    k = args.counsellors
    async with new_session() as session:
        names = {key: await make_counsellors(stack.redis_url, p, k)
                 for key, p in prefixes.items()}
        setups: dict[str, tuple[Pairs, list[int]]] = {}
        try:
            setups["relay"] = (await relay_pairs(session, relay.port, k, args.conversations),
                               [relay.pid])
            setups["local"] = (await helpline_pairs(session, (local.port, local.port),
                                                    names["local"], args.conversations),
                               [local.pid])
            setups["redis1"] = (await helpline_pairs(session, (redis1.port, redis1.port),
                                                     names["redis1"], args.conversations),
                                [redis1.pid])
            setups["redis2"] = (await helpline_pairs(session, (redis2[0].port, redis2[1].port),
                                                     names["redis2"], args.conversations),
                                [s.pid for s in redis2])
            for pairs, pids in setups.values():  # warm-up, not counted
                await closed_loop(pairs, pids, min(30, args.messages), args.window,
                                  stack.redis_pid)
            for r in range(args.rounds):
                for key, (pairs, pids) in setups.items():
                    runs[key].append(await closed_loop(pairs, pids, args.messages,
                                                       args.window, stack.redis_pid))
                if not args.json:
                    print(f"  closed loop round {r + 1}: " + ", ".join(
                        f"{key} {v[-1]['cpu_ms_per_msg']:.3f} ms" for key, v in runs.items()),
                        flush=True)
        finally:
            for pairs, _ in setups.values():
                await pairs.close()
    for s in (relay, local, redis1, *redis2):
        stop(s.proc)
    med = {key: {m: statistics.median(r[m] for r in v) for m in v[0]} for key, v in runs.items()}
    return {"runs": runs, "median": med}


# ---------------------------------------------- 3 + 4: open loop, idle widget memory

async def idle_widgets(workers: list[Worker], server: Server, count: int, ns: str,
                       event: str, payload: dict[str, Any] | None, timeout: float
                       ) -> dict[str, Any]:
    """Open `count` idle widgets; relay widgets each join a room of their own."""
    if payload is None:
        payload = {"room": "*"}  # the relay: the worker gives each widget a room
    return await spread(workers, count, timeout, cmd="open", port=server.port, ns=ns,
                        event=event, payload=payload, concurrency=40)


async def rss_growth(workers: list[Worker], server: Server, count: int, ns: str, event: str,
                     payload: dict[str, Any] | None, timeout: float) -> dict[str, float]:
    await idle_widgets(workers, server, 20, ns, event, payload, timeout)  # warm code paths
    await asyncio.sleep(0.5)
    before = proc_rss_kb(server.pid)
    res = await idle_widgets(workers, server, count, ns, event, payload, timeout)
    await asyncio.sleep(1)
    after = proc_rss_kb(server.pid)
    return {"rss_before_kb": before, "rss_after_kb": after, "widgets": res["ok"],
            "open_s": res["elapsed"],
            "kb_per_widget": (after - before) / max(1, res["ok"])}


async def open_loop(pairs: Pairs, rate: float, duration: float) -> dict[str, Any]:
    """Send at fixed times (round robin over the conversations), never waiting for an
    ack; latency counts from the planned send time, so a stalled generator or server
    shows up instead of being hidden (no coordinated omission)."""
    planned: dict[tuple[str, int], float] = {}
    delivered: dict[tuple[str, int], float] = {}
    count = int(rate * duration)
    done = asyncio.Event()

    ours = set(pairs.cids)

    def on_message(cid: str, seq: int, at: float) -> None:
        # A delivery may come before the ack that tells its seq: keep all, match later.
        if cid in ours and (cid, seq) not in delivered:
            delivered[(cid, seq)] = at
            if len(delivered) >= count:
                done.set()

    listen(pairs, on_message)
    bodies = [b64url(os.urandom(BODY_BYTES)) for _ in range(64)]
    start = time.perf_counter() + 0.5
    lag = 0.0
    acks: list[asyncio.Future[Any]] = []

    def on_ack(cid: str, t: float, fut: asyncio.Future[Any]) -> None:
        if fut.cancelled() or fut.exception() is not None:
            return
        ack = fut.result()
        if isinstance(ack, dict) and "ok" in ack:
            planned[(cid, int(ack["ok"]["seq"]))] = t

    for k in range(count):
        t = start + k / rate
        delay = t - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            lag = max(lag, -delay)
        i = k % len(pairs.cids)
        cid = pairs.cids[i]
        fut = await pairs.youths[i].send("send", {"body": bodies[k % len(bodies)]})
        fut.add_done_callback(functools.partial(on_ack, cid, t))
        acks.append(fut)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*acks, return_exceptions=True), 30)
    # Deliveries can arrive before their ack told us the seq: match them now.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), 30)
    lat = [(delivered[k] - planned[k]) * 1000 for k in planned if k in delivered]
    return {"messages": count, "delivered": len(lat), "p50_ms": pct(lat, 50),
            "p99_ms": pct(lat, 99), "max_ms": max(lat, default=math.nan),
            "generator_lag_ms": lag * 1000,
            # (seconds into the run, latency ms) of the slowest: a pause shows as a cluster
            "slowest": sorted(((round(planned[k] - start, 2), round(
                (delivered[k] - planned[k]) * 1000, 1)) for k in planned if k in delivered),
                key=lambda x: -x[1])[:8]}


async def rows_open_loop(args: argparse.Namespace, stack: Stack, workers: list[Worker]
                         ) -> dict[str, Any]:
    prefix, server = stack.early["open"]
    relay = stack.early["relay-memory"][1]
    ready(server, relay)
    timeout = args.phase_timeout
    out: dict[str, Any] = {}
    out["relay_memory"] = await rss_growth(workers, relay, args.idle, "/relay", "join", None,
                                           timeout)
    if not args.json:
        print(f"  relay: {out['relay_memory']['kb_per_widget']:.1f} KB per idle socket",
              flush=True)
    await asyncio.gather(*(w.close_widgets(timeout) for w in workers))
    stop(relay.proc)
    idle_payload = {"intake": True} if args.idle_state == "intake" else {}
    out["helpline_memory"] = await rss_growth(workers, server, args.idle, "/youth", "open",
                                              idle_payload, timeout)
    if not args.json:
        print(f"  helpline: {out['helpline_memory']['kb_per_widget']:.1f} KB per idle widget "
              f"({out['helpline_memory']['widgets']} opened in "
              f"{out['helpline_memory']['open_s']:.1f} s)", flush=True)
    names = await make_counsellors(stack.redis_url, prefix, args.open_counsellors)
    async with new_session() as session:
        pairs = await helpline_pairs(session, (server.port, server.port), names, args.active)
        try:
            cpu0 = proc_cpu(server.pid)
            res = await open_loop(pairs, args.rate, args.duration)
            res["server_cpu_share"] = (proc_cpu(server.pid) - cpu0) / (args.duration + 0.5)
        finally:
            await pairs.close()
    out["latency"] = res
    await asyncio.gather(*(w.close_widgets(timeout) for w in workers))
    stop(server.proc)
    return out


# ------------------------------------------------------------------ 5: the queue

async def row_queue(args: argparse.Namespace, stack: Stack, workers: list[Worker]
                    ) -> dict[str, Any]:
    prefix, server = stack.early["queue"]
    ready(server)
    names = await make_counsellors(stack.redis_url, prefix, 1)
    q, k = args.queue, min(50, args.queue // 4)
    async with new_session() as session:
        watcher = await staff_sock(session, server.port, names[0])
        queue_events = 0

        def count(name: str, data: Any, at: float) -> None:
            nonlocal queue_events
            queue_events += name == "queue"
        watcher.on_event = count
        try:
            async def phase(n: int) -> dict[str, float]:
                cpu0 = proc_cpu(server.pid)
                res = await spread(workers, n, args.phase_timeout, cmd="open",
                                   port=server.port, ns="/youth", event="open", payload={},
                                   concurrency=10)
                cpu = proc_cpu(server.pid) - cpu0
                return {"opened": res["ok"], "seconds": res["elapsed"],
                        "cpu_ms_per_open": cpu * 1000 / max(1, res["ok"])}
            first = await phase(k)           # queue 0 -> k
            fill = await phase(q - k)        # -> q
            into = await phase(q)            # q -> 2q: the row of the table
            await asyncio.sleep(1)
            queue_now = await watcher.call("queue", {})
        finally:
            await watcher.close()
    await asyncio.gather(*(w.close_widgets(args.phase_timeout) for w in workers))
    stop(server.proc)
    probe_len = len(queue_now["entries"])
    return {"near_empty": first, "fill": fill, "into_full": into, "queue_at_end": probe_len,
            "queue_events_seen": queue_events}


# ------------------------------------------------------------------ 6: the purge

async def row_purge(args: argparse.Namespace, stack: Stack, workers: list[Worker]
                    ) -> dict[str, Any]:
    from helpline.config import Settings
    from helpline.storage.redis_store import RedisStore, connect_redis

    prefix, maker = stack.early["purge"]
    common = {"HELPLINE_RETENTION_DAYS": "0"}  # due the moment it closes
    ready(maker)
    made = await spread(workers, args.purge, args.phase_timeout, cmd="churn",
                        port=maker.port, ns="/youth", event="open", payload={},
                        concurrency=20)
    stop(maker.proc)
    store = RedisStore(connect_redis(stack.redis_url, 2), prefix)
    try:
        due = int(await store.redis.zcard(store.keys.purge))
        interval = args.job_interval
        purger = stack.helpline("helpline-purge", prefix, {
            **common, "HELPLINE_JOB_INTERVAL_SECONDS": str(interval)})
        t0 = time.perf_counter()  # every conversation is due before this server starts
        ready(purger)
        samples: list[tuple[float, int]] = []
        deadline = t0 + args.phase_timeout
        left = due
        while left and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
            left = int(await store.redis.zcard(store.keys.purge))
            if not samples or samples[-1][1] != left:
                samples.append((time.perf_counter() - t0, left))
        elapsed = time.perf_counter() - t0
        # A pass logs itself after its last purge (and its follow-ups): wait for it.
        runs: list[dict[str, object]] = []
        passes: list[int] = []
        for _ in range(300):
            runs = [j for j in await store.list_jobs() if j.get("job") == "purge"]
            passes = [int(str(j.get("done", 0))) for j in runs if int(str(j.get("done", 0)))]
            if sum(passes) >= due - left:
                break
            await asyncio.sleep(0.1)
    finally:
        await store.close()
    stop(purger.proc)
    batch = max(passes, default=0)
    default_interval = Settings().job_interval_seconds
    first_done = next((t for t, n in samples if n < due), math.nan)
    busy = (samples[-1][0] - first_done) if samples and not left else math.nan
    # At the default interval the same passes come one interval apart.
    projected = ((len(passes) - 1) * default_interval + busy / max(1, len(passes))
                 if passes and not left else math.nan)
    return {"made": made["ok"], "made_s": made["elapsed"], "due": due, "left": left,
            "seconds": elapsed, "busy_s": busy, "interval_s": interval,
            "passes": len(passes),
            "batch": batch, "first_purged_after_s": first_done,
            "default_interval_s": default_interval, "projected_default_s": projected,
            "job_log": runs[:5]}


# ------------------------------------------------------------------ the table

@dataclass
class Row:
    name: str
    now: str
    target: str
    met: bool | None


def table(res: dict[str, Any], args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    if "closed" in res:
        m = res["closed"]["median"]
        base = m["relay"]["cpu_ms_per_msg"]
        r1 = m["local"]["cpu_ms_per_msg"] / base
        rows.append(Row("server CPU per message, one process",
                        f"{m['local']['cpu_ms_per_msg']:.3f} ms, {r1:.2f}x the bare relay "
                        f"({base:.3f} ms)", "<= 1.5x the bare relay", r1 <= 1.5))
        loc = m["local"]["cpu_ms_per_msg"]
        f1, f2 = m["redis1"]["cpu_ms_per_msg"] / loc, m["redis2"]["cpu_ms_per_msg"] / loc
        rows.append(Row("Redis fan-out vs in-process, CPU per message",
                        f"{f1:.2f}x (1 process), {f2:.2f}x (2 processes)",
                        "<= 1.3x, not growing with processes",
                        f1 <= 1.3 and f2 <= 1.3 and f2 <= f1 * 1.1))
    if "open" in res:
        lat = res["open"]["latency"]
        rows.append(Row(
            f"p99 delivery, {args.active:,} active at {args.rate:g} msg/s + "
            f"{args.idle:,} idle widgets, one process",
            f"p50 {lat['p50_ms']:.1f} / p99 {lat['p99_ms']:.1f} / max {lat['max_ms']:.1f} ms"
            f" ({lat['delivered']}/{lat['messages']} delivered)", "< 50 ms",
            lat["p99_ms"] < 50 and lat["delivered"] == lat["messages"]))
    if "queue" in res:
        q = res["queue"]
        ratio = q["into_full"]["cpu_ms_per_open"] / q["near_empty"]["cpu_ms_per_open"]
        rows.append(Row(
            f"{args.queue:,} young people opening into a queue of {args.queue:,}",
            f"{q['into_full']['seconds']:.1f} s; CPU per open {ratio:.2f}x at queue "
            f"~{args.queue:,} vs ~0 ({q['into_full']['cpu_ms_per_open']:.2f} vs "
            f"{q['near_empty']['cpu_ms_per_open']:.2f} ms)",
            "cost per open independent of queue length (<= 1.5x)",
            ratio <= 1.5 and q["into_full"]["opened"] == args.queue))
    if "purge" in res:
        p = res["purge"]
        rows.append(Row(
            f"purge of {p['due']:,} closed conversations",
            f"{p['busy_s']:.1f} s from the first purged to the last at a {p['interval_s']:g} s "
            f"interval (passes: {p['passes']}, at most {p['batch']} each); about "
            f"{p['projected_default_s']:.0f} s at the default {p['default_interval_s']:g} s",
            "< 10 s",
            not p["left"] and p["projected_default_s"] < 10))
    if "open" in res:
        h, r = res["open"]["helpline_memory"], res["open"]["relay_memory"]
        rows.append(Row("memory per idle widget (connected, conversation open)",
                        f"{h['kb_per_widget']:.1f} KB ({r['kb_per_widget']:.1f} KB bare relay,"
                        f" {h['kb_per_widget'] / r['kb_per_widget']:.2f}x)", "<= 30 KB",
                        h["kb_per_widget"] <= 30))
    return rows


def print_table(rows: list[Row], failed: dict[str, str]) -> None:
    print("\n| | now | target | met? |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r.name} | {r.now} | {r.target} | "
              f"{'yes' if r.met else 'no' if r.met is not None else '?'} |")
    for part, error in failed.items():
        print(f"| part {part} | did not finish: {error} | | no |")


# ------------------------------------------------------------------ main

QUICK = {"conversations": 4, "messages": 50, "rounds": 2, "active": 30, "rate": 30.0,
         "idle": 200, "duration": 4.0, "queue": 60, "purge": 150, "job_interval": 2.0}
FULL = {"conversations": 10, "messages": 300, "rounds": 3, "active": 1000, "rate": 200.0,
        "idle": 10000, "duration": 60.0, "queue": 1000, "purge": 10000,
        "job_interval": 40.0}

HELP = {"conversations": "closed loop: conversations per server",
        "messages": "closed loop: messages per conversation and run",
        "rounds": "closed loop: runs of each server, alternating; medians are reported",
        "active": "open loop: active conversations", "rate": "open loop: messages/s in all",
        "idle": "idle widgets (open loop and memory)", "duration": "open loop: seconds",
        "queue": "queue: young people already waiting, and as many opening",
        "purge": "purge: closed conversations to purge",
        # A purge pass works at most min(20 s, interval / 2) (helpline/jobs.py): from
        # 40 s on, a pass may work as long as at the default 60 s.
        "job_interval": "purge: HELPLINE_JOB_INTERVAL_SECONDS of the purging server"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small numbers, under a minute: " + json.dumps(QUICK))
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument("--only", default="closed,open,queue,purge",
                        help="comma-separated parts to run: closed,open,queue,purge (all)")
    for key, value in FULL.items():
        parser.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=None,
                            help=f"{HELP[key]} (full run {value}, quick {QUICK[key]})")
    parser.add_argument("--window", type=int, default=2,
                        help="closed loop: messages per chat sent, not yet delivered (2)")
    parser.add_argument("--counsellors", type=int, default=3,
                        help="closed loop: counsellor sockets (3)")
    parser.add_argument("--open-counsellors", type=int, default=10,
                        help="open loop: counsellors sharing the active chats (10)")
    parser.add_argument("--idle-state", choices=("intake", "queue"), default="intake",
                        help="idle widgets open with the intake assistant (announced to "
                             "nobody) or straight into the queue (intake)")
    parser.add_argument("--workers", type=int, default=2, help="widget worker processes (2)")
    parser.add_argument("--phase-timeout", type=float, default=900.0,
                        help="seconds any one phase may take (900)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--relay-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if min(args.conversations, args.messages, args.rounds, args.active, args.idle,
           args.queue, args.purge, args.window, args.counsellors, args.workers) < 1:
        parser.error("every number must be at least 1")
    if args.queue < 20:
        parser.error("--queue must be at least 20")
    return args


async def run(args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    parts = set(args.only.split(","))
    res: dict[str, Any] = {}
    # The servers of the later parts start now, side by side (each start takes a
    # second or two of CPU); idle until their part, they cost the others nothing.
    if "open" in parts:
        stack.early["open"] = (p := f"b{secrets.token_hex(3)}open:",
                               stack.helpline("helpline-openloop", p))
        stack.early["relay-memory"] = ("", stack.relay("relay-memory"))
    if "queue" in parts:
        stack.early["queue"] = (p := f"b{secrets.token_hex(3)}queue:",
                                stack.helpline("helpline-queue", p))
    if "purge" in parts:
        stack.early["purge"] = (p := f"b{secrets.token_hex(3)}purge:", stack.helpline(
            "helpline-purge-make", p, {"HELPLINE_RETENTION_DAYS": "0", "HELPLINE_JOBS": "off"}))
    workers = [await Worker.start() for _ in range(args.workers)]
    try:
        if "closed" in parts:
            say(args, "closed loop: helpline vs bare relay, fan-out local vs redis")
            await attempt(args, res, "closed", rows_closed_loop(args, stack))
        if "open" in parts:
            say(args, f"open loop: {args.idle} idle widgets, {args.active} active at "
                      f"{args.rate:g} msg/s for {args.duration:g} s")
            await attempt(args, res, "open", rows_open_loop(args, stack, workers))
            if "failed" in res and "open" in res["failed"]:  # free what it left open
                with contextlib.suppress(Exception):
                    await asyncio.gather(*(w.close_widgets(120) for w in workers))
        if "queue" in parts:
            say(args, f"queue: {args.queue} into a queue of {args.queue}")
            await attempt(args, res, "queue", row_queue(args, stack, workers))
            if "failed" in res and "queue" in res["failed"]:  # free what it left open
                with contextlib.suppress(Exception):
                    await asyncio.gather(*(w.close_widgets(120) for w in workers))
        if "purge" in parts:
            say(args, f"purge: {args.purge} closed conversations")
            await attempt(args, res, "purge", row_purge(args, stack, workers))
    finally:
        for w in workers:
            with contextlib.suppress(Exception):
                await w.stop()
    return res


async def attempt(args: argparse.Namespace, res: dict[str, Any], part: str,
                  work: Coroutine[Any, Any, dict[str, Any]]) -> None:
    """Run one part; a failure is reported as that part's result, the others go on."""
    try:
        res[part] = await work
    except Exception as exc:
        res.setdefault("failed", {})[part] = f"{type(exc).__name__}: {exc}"[:500]
        print(f"  ! part {part} failed: {res['failed'][part]}", file=sys.stderr, flush=True)


def say(args: argparse.Namespace, text: str) -> None:
    if not args.json:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def started_stack() -> Iterator[Stack]:
    from helpline.embedded_redis import start_embedded_redis

    with tempfile.TemporaryDirectory(prefix="helpline-load-") as name:
        stack = Stack(Path(name))
        redis = None
        try:
            redis = start_embedded_redis(stack.tmp)
            assert redis.process is not None, "a fresh folder must start its own Redis"
            stack.redis_url, stack.redis_pid = redis.url, redis.process.pid
            yield stack
        except BaseException:
            stack.tail_logs()
            raise
        finally:
            stack.stop_all()
            if redis is not None:
                redis.stop()


def main() -> None:
    args = parse_args()
    if args.relay_server:
        relay_main(args.relay_server)
        return
    if args.worker:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent ends us via stdin
        asyncio.run(worker_main())
        return
    limit = raise_file_limit()
    need = args.idle + 2 * args.active + 2 * args.queue + 200
    if limit < need:
        sys.exit(f"the open-file limit ({limit}) is below what this run needs ({need})")
    signal.signal(signal.SIGTERM, interrupted)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    t0 = time.perf_counter()
    with started_stack() as stack:
        try:
            res = asyncio.run(run(args, stack))
        finally:
            signal.signal(signal.SIGTERM, interrupted)
    rows = table(res, args)
    if args.json:
        print(json.dumps({"started": started, "seconds": time.perf_counter() - t0,
                          "args": {k: v for k, v in vars(args).items()
                                   if k not in ("worker", "relay_server")},
                          "results": res,
                          "table": [vars(r) for r in rows]}, indent=2, default=str))
        return
    print_table(rows, res.get("failed", {}))
    kind = "quick" if args.quick else "full" if all(
        getattr(args, k) == v for k, v in FULL.items()) else "custom"
    print(f"\n{kind} run started {started}, "
          f"{time.perf_counter() - t0:.0f} s in all; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    try:
        main()
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.exit("interrupted (every process this benchmark started is stopped)")
