"""What end-to-end encryption costs a running helpline, measured in one run.

Starts its own embedded Redis and one real `helpline serve` process on 127.0.0.1, makes
a few counsellor accounts (device keys registered and granted, as in tests/test_e2e.py),
then runs two closed loops, alternating (plain, enc, plain, enc, ...):

- plaintext: C young people each send M random bodies with `send(body)`, as big as an
  encrypted text of --text-bytes would be; delivered = the counsellor's client got
  the `message` event.
- encrypted: the same with `pinned_fingerprint` and `send_text(text)`; delivered = the
  counsellor's client decrypted and verified it with `read(cid)`.

Closed loop: each young person awaits the ack of every send, and has at most --window
messages sent but not yet delivered (decrypted, in the encrypted loop), so the C
conversations keep server and clients busy without any queue growing unbounded.

Per loop it reports messages/s (all messages / time from the first send to the last
delivery), p50 and p99 latency (send call to delivery) and CPU per message of the
client process (all clients share it), the server and Redis; then the ratio
encrypted/plaintext and whether encryption keeps at least 80% of the plaintext
throughput. Each metric is the median over the runs of that loop.

Run: `.venv/bin/python bench/encryption.py [--help]` or `./dev bench encryption`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import secrets
import signal
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpline.client import StaffClient, YouthClient
from helpline.crypto.envelope import EnvelopeSealer, SenderRole
from helpline.crypto.keyring import StaffKeyring, text_plaintext
from helpline.crypto.keys import SigningKeyPair, generate_epoch_key
from helpline.domain.roles import Role
from helpline.embedded_redis import EmbeddedRedis, start_embedded_redis
from helpline.services.accounts import AccountPolicy, AccountService
from helpline.services.keyadmin import KeyAdmin, KeyPolicy
from helpline.services.ports import SystemClock
from helpline.storage.redis_store import RedisStore, connect_redis

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.80  # encrypted throughput / plaintext throughput
CID_LENGTH = 22  # the server's conversation ids
RUN_TIMEOUT = 120.0


class TimedStaffClient(StaffClient):
    """A counsellor client that tells a listener when each `message` event arrives.

    The time is taken first thing in the client's own `message` handler: one clock
    read and a dict look-up, so it is exact to the event loop's dispatch and costs
    nothing measurable. Polling the transcript instead would add up to a poll
    interval of error and burn CPU in the very event loop all clients share.
    """

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.listeners: dict[str, Callable[[int, float], None]] = {}  # by conversation id

    async def _on_message(self, data: dict[str, Any]) -> None:
        received = time.perf_counter()
        await super()._on_message(data)
        listener = self.listeners.get(str(data.get("conversation_id")))
        if listener is not None:
            listener(int(data["seq"]), received)


@dataclass
class Run:
    """One loop's timestamps, keyed by (conversation id, seq), and the send windows."""

    target: int
    window: int
    sent: dict[tuple[str, int], float] = field(default_factory=dict)
    delivered: dict[tuple[str, int], float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    slots: dict[str, asyncio.Semaphore] = field(default_factory=dict)

    def slot(self, cid: str) -> asyncio.Semaphore:
        return self.slots.setdefault(cid, asyncio.Semaphore(self.window))

    def deliver(self, key: tuple[str, int], at: float, error: str | None = None) -> None:
        if error:
            self.errors.append(f"{key[0]} seq {key[1]}: {error}")
        else:
            self.delivered.setdefault(key, at)
        self.slot(key[0]).release()  # one more message of this chat may be in flight
        if len(self.delivered) + len(self.errors) >= self.target:
            self.done.set()


@dataclass
class Bench:
    args: argparse.Namespace
    url: str
    fingerprint: str
    counsellors: list[TimedStaffClient]
    pids: dict[str, int]  # "server", "redis"


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of another process (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def encrypted_size(text_bytes: int) -> int:
    """Length of the envelope `send_text` makes for a text of `text_bytes` ASCII bytes."""
    sealer = EnvelopeSealer(epoch_key=generate_epoch_key(), conversation_id="c" * CID_LENGTH,
                            epoch=1, role=SenderRole.YOUTH, signing_key=SigningKeyPair.generate())
    return len(sealer.seal(text_plaintext("x" * text_bytes)))


def percentile(values: list[float], pct: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


async def run_loop(bench: Bench, encrypted: bool, messages: int) -> dict[str, float]:
    """C fresh conversations, M messages each; returns this run's numbers."""
    args, n = bench.args, bench.args.conversations
    youths = [YouthClient(bench.url, pinned_fingerprint=bench.fingerprint if encrypted else None)
              for _ in range(n)]
    try:
        await asyncio.gather(*(y.connect() for y in youths))
        await asyncio.gather(*(y.open() for y in youths))
        cids = [str(y.conversation_id) for y in youths]
        owners = [bench.counsellors[i % len(bench.counsellors)] for i in range(n)]
        for cid, owner in zip(cids, owners, strict=True):
            await owner.accept(cid)
            if encrypted:
                await owner.read(cid)  # fetch and unwrap the keys before the clock starts
        run = Run(target=n * messages, window=args.window)
        # Payloads are made before the clock starts; sealing is part of what we measure.
        size, alphabet = encrypted_size(args.text_bytes), string.ascii_letters + string.digits
        texts = ["".join(random.choices(alphabet, k=args.text_bytes)) for _ in range(messages)]
        bodies = [os.urandom(size) for _ in range(messages)]
        wakes = {cid: asyncio.Event() for cid in cids}

        def listener(cid: str) -> Callable[[int, float], None]:
            def on_message(seq: int, at: float) -> None:
                if encrypted:
                    wakes[cid].set()  # the consumer decrypts, then delivers
                else:
                    run.deliver((cid, seq), at)
            return on_message

        for cid, owner in zip(cids, owners, strict=True):
            owner.listeners[cid] = listener(cid)

        async def send_all(youth: YouthClient, cid: str) -> None:
            for i in range(messages):
                # Closed loop: at most --window messages of this chat sent but not yet
                # delivered (and each send awaits its ack), so no queue grows unbounded.
                await run.slot(cid).acquire()
                run.sent[(cid, i + 1)] = time.perf_counter()
                ack = await (youth.send_text(texts[i]) if encrypted else youth.send(bodies[i]))
                assert ack["seq"] == i + 1, "only the young person writes: seq = own count"

        async def consume(owner: TimedStaffClient, cid: str) -> None:
            done = 0
            while done < messages:
                await wakes[cid].wait()
                wakes[cid].clear()
                opened = await owner.read(cid)
                now = time.perf_counter()
                for msg in opened[done:]:
                    run.deliver((cid, msg.seq), now, msg.error)
                done = len(opened)

        cpu = (time.process_time(), proc_cpu(bench.pids["server"]), proc_cpu(bench.pids["redis"]))
        tasks = [send_all(y, c) for y, c in zip(youths, cids, strict=True)]
        if encrypted:
            tasks += [consume(o, c) for o, c in zip(owners, cids, strict=True)]
        await asyncio.wait_for(asyncio.gather(*tasks, run.done.wait()), RUN_TIMEOUT)
        client_cpu = time.process_time() - cpu[0]
        server_cpu = proc_cpu(bench.pids["server"]) - cpu[1]
        redis_cpu = proc_cpu(bench.pids["redis"]) - cpu[2]
        for owner, cid in zip(owners, cids, strict=True):
            del owner.listeners[cid]
        if run.errors:
            raise RuntimeError(f"{len(run.errors)} decryption errors: {run.errors[:5]}")
        if encrypted and len(youths[0].messages[0]["body"]) != size:
            raise RuntimeError("plaintext bodies must have the size of encrypted ones")
        latencies = [(run.delivered[k] - run.sent[k]) * 1000 for k in run.delivered]
        wall = max(run.delivered.values()) - min(run.sent.values())
        per_msg = 1000 / run.target
        return {"msgs_per_s": run.target / wall, "p50_ms": percentile(latencies, 50),
                "p99_ms": percentile(latencies, 99), "wall_s": wall,
                "client_cpu_ms_per_msg": client_cpu * per_msg,
                "server_cpu_ms_per_msg": server_cpu * per_msg,
                "redis_cpu_ms_per_msg": redis_cpu * per_msg}
    finally:
        await disconnect_all(youths)


async def disconnect_all(clients: list[YouthClient] | list[TimedStaffClient]) -> None:
    """Close every client at once, within 5 s, whatever state they are in."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.gather(*(c.disconnect() for c in clients),
                                              return_exceptions=True), 5)


async def set_up(args: argparse.Namespace, url: str, redis_url: str, prefix: str, tmp: Path,
                 pids: dict[str, int], counsellors: list[TimedStaffClient]) -> Bench:
    """Keys, counsellor accounts and their granted devices (as tests/conftest.py does)."""
    password = secrets.token_urlsafe(16)
    store = RedisStore(connect_redis(redis_url, 8), prefix)
    admin = KeyAdmin(store, tmp / "keys", secrets.token_bytes(16), SystemClock(), KeyPolicy())
    accounts = AccountService(store, SystemClock(), AccountPolicy(
        session_ttl_seconds=3600, login_max_failures=5, login_lock_seconds=900,
        scrypt_log2_n=10))
    try:
        fingerprint = await admin.init()
        for i in range(args.counsellors):
            name = f"counsellor{i + 1}"
            await accounts.add_user(name, Role.COUNSELLOR, password)
            client = await TimedStaffClient.signed_in(
                url, name, password, keyring=StaffKeyring.generate(name, fingerprint))
            assert isinstance(client, TimedStaffClient)
            counsellors.append(client)
            await client.register_device()
            ring = client.keyring
            assert ring is not None
            await admin.approve(name, Role.COUNSELLOR, ring.encryption.public.fingerprint,
                                ring.signing.public.fingerprint)
            await admin.grant(name)
            await client.load_grants()
    finally:
        await store.close()
    return Bench(args, url, fingerprint, counsellors, pids)


async def measure(args: argparse.Namespace, url: str, redis_url: str, prefix: str,
                  tmp: Path, pids: dict[str, int]) -> dict[str, list[dict[str, float]]]:
    # SIGTERM (like Ctrl-C, which asyncio.run handles) cancels the run, so that every
    # finally block closes its clients before main() stops the server and Redis.
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    results: dict[str, list[dict[str, float]]] = {"plaintext": [], "encrypted": []}
    counsellors: list[TimedStaffClient] = []
    try:
        bench = await set_up(args, url, redis_url, prefix, tmp, pids, counsellors)
        warm = min(args.messages, 30)  # connections, caches, code paths: not counted
        await run_loop(bench, False, warm)
        await run_loop(bench, True, warm)
        for _ in range(args.rounds):
            for name, encrypted in (("plaintext", False), ("encrypted", True)):
                results[name].append(await run_loop(bench, encrypted, args.messages))
                if not args.json:
                    r = results[name][-1]
                    print(f"  run {name:<9} {r['msgs_per_s']:8.0f} msgs/s  "
                          f"p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms", flush=True)
    finally:
        await disconnect_all(counsellors)
    return results


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "helpline", "serve", "--port", str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT,
                                cwd=env["HELPLINE_DATA_DIR"])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def report(args: argparse.Namespace, results: dict[str, list[dict[str, float]]]) -> None:
    med = {loop: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
           for loop, runs in results.items()}
    plain, enc = med["plaintext"], med["encrypted"]
    ratio = enc["msgs_per_s"] / plain["msgs_per_s"]
    p99_ratio = enc["p99_ms"] / plain["p99_ms"]
    met = ratio >= TARGET
    if args.json:
        print(json.dumps({"conversations": args.conversations, "messages": args.messages,
                          "text_bytes": args.text_bytes, "rounds": args.rounds,
                          "window": args.window, "counsellors": args.counsellors,
                          "summary": "median per metric over rounds", "median": med,
                          "runs": results, "throughput_ratio": ratio, "p99_ratio": p99_ratio,
                          "target": TARGET, "target_met": met}, indent=2))
        return
    print(f"\nmedian of {args.rounds} runs per loop (each metric on its own); "
          "CPU = milliseconds of CPU per delivered message")
    print(f"{'loop':<10} {'msgs/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'client CPU':>11} {'server CPU':>11} {'redis CPU':>10}")
    for loop, m in med.items():
        print(f"{loop:<10} {m['msgs_per_s']:8.0f} {m['p50_ms']:8.1f} {m['p99_ms']:8.1f} "
              f"{m['client_cpu_ms_per_msg']:11.3f} {m['server_cpu_ms_per_msg']:11.3f} "
              f"{m['redis_cpu_ms_per_msg']:10.3f}")
    print(f"encrypted/plaintext: throughput {ratio:.2f}, p99 latency {p99_ratio:.2f}")
    print(f"target (encrypted keeps >= {TARGET:.0%} of plaintext throughput): "
          f"{'MET' if met else 'NOT MET'}")


def interrupted(signum: int, frame: object) -> None:
    """SIGTERM outside the event loop: end like Ctrl-C, so the finally blocks run."""
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10, help="concurrent chats (10)")
    parser.add_argument("--messages", type=int, default=300, help="per young person (300)")
    parser.add_argument("--text-bytes", type=int, default=100, help="plaintext length (100)")
    parser.add_argument("--counsellors", type=int, default=3, help="staff accounts (3)")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each loop (5)")
    parser.add_argument("--window", type=int, default=2,
                        help="messages per chat sent but not yet delivered, at most (2)")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args()
    if min(args.conversations, args.messages, args.text_bytes, args.counsellors,
           args.rounds, args.window) < 1:
        parser.error("every number must be at least 1")
    signal.signal(signal.SIGTERM, interrupted)

    per_counsellor = math.ceil(args.conversations / args.counsellors) * (2 * args.rounds + 2)
    redis: EmbeddedRedis | None = None
    server: subprocess.Popen[bytes] | None = None
    with tempfile.TemporaryDirectory(prefix="helpline-bench-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "data").mkdir()
        try:
            redis = start_embedded_redis(tmp)
            assert redis.process is not None, "a fresh folder must start its own Redis"
            prefix = f"bench{secrets.token_hex(4)}:"
            env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
            env.update({"REDIS_URL": redis.url, "HELPLINE_KEY_PREFIX": prefix,
                        "HELPLINE_DATA_DIR": str(tmp / "data"), "HELPLINE_SCRYPT_LOG2_N": "10",
                        "HELPLINE_MAX_CONVERSATIONS": str(per_counsellor + 10),
                        "HELPLINE_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)})
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = int(s.getsockname()[1])
            server = start_server(env, port, tmp / "server.log")
            if not args.json:
                print(f"helpline encryption bench: {args.conversations} conversations x "
                      f"{args.messages} messages, {args.text_bytes}-byte texts "
                      f"({encrypted_size(args.text_bytes)}-byte bodies), "
                      f"{args.counsellors} counsellors, window {args.window}, "
                      "loops alternating", flush=True)
            pids = {"server": server.pid, "redis": redis.process.pid}
            try:
                results = asyncio.run(measure(args, f"http://127.0.0.1:{port}", redis.url,
                                              prefix, tmp, pids))
            finally:
                signal.signal(signal.SIGTERM, interrupted)  # asyncio reset it to the default
        except Exception:
            log = tmp / "server.log"
            if log.exists() and log.stat().st_size:
                print(f"--- server log ---\n{log.read_text()[-4000:]}", file=sys.stderr)
            raise
        finally:
            stop(server)
            if redis is not None:
                redis.stop()
    report(args, results)


if __name__ == "__main__":
    try:
        main()
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.exit("interrupted (server and Redis stopped)")
