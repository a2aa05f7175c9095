"""`helpline counsel`: play a demo counsellor in the terminal, until the console lands.

With `helpline serve --demo` running, this logs in as a demo counsellor with the demo
device keys (from the data folder), takes the first young person in the queue, prints
what they write (decrypted here, on this "device") and sends each line typed, end to
end encrypted like any counsellor's message. `/offer` offers a police handover, `/end`
ends the chat. It is a demo tool: a real counsellor uses the console.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
from typing import TextIO

from helpline.cli.common import open_store
from helpline.cli.demo import DEMO_FILE
from helpline.client import StaffClient
from helpline.config import Settings
from helpline.crypto.keyfile import read_encryption_key_file, read_signing_key_file
from helpline.crypto.keyring import Decrypted, StaffKeyring
from helpline.crypto.keys import KeyKind, fingerprint

POLL_SECONDS = 0.5
WAIT_FOR_QUEUE_SECONDS = 12 * 3600.0  # a demo waits as long as anyone would
HELP = "type a line and Enter to send; /offer offers a police handover; /end ends the chat"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("counsel", help="demo: chat as a counsellor in this terminal")
    p.add_argument("--url", default="", help="the server (default: this host's serve address)")
    p.add_argument("--user", default="counsellor1", help="a demo counsellor (default counsellor1)")


def _demo_password(settings: Settings, user: str) -> str:
    path = settings.data_dir / DEMO_FILE
    if not path.exists():
        raise SystemExit(f"no demo logins in {path}: start `helpline serve --demo` first")
    for line in path.read_text().splitlines():
        name, _role, password = line.split("\t")
        if name == user:
            return password
    raise SystemExit(f"{user} is not a demo account (see {path})")


async def _keyring(settings: Settings, user: str) -> StaffKeyring:
    devices = settings.data_dir / "demo-devices"
    async with open_store(settings) as store:
        signing = await store.get_signing_key()
    if signing is None:
        raise SystemExit("no organisation keys published: start `helpline serve --demo` first")
    return StaffKeyring(user, fingerprint(signing, KeyKind.ED25519),
                        read_encryption_key_file(devices / f"{user}.encryption.pem", None),
                        read_signing_key_file(devices / f"{user}.signing.pem", None))


def _show(m: Decrypted, out: TextIO) -> None:
    who = "young person" if m.sender_role == "youth" else m.sender_role
    if m.error:
        out.write(f"[{who}] (could not be opened: {m.error})\n")
    elif m.kind == "signal":
        out.write(f"[{who}] !! signal: {m.signal} (the young person cannot talk freely)\n")
    elif m.text:
        out.write(f"[{who}] {m.text}\n")
    out.flush()


def _read_lines(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    """Standard input, line by line, in a daemon thread (a blocked read must not keep
    the process alive after `/end`); None at end of input."""
    def pump() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\n"))
        loop.call_soon_threadsafe(queue.put_nowait, None)
    threading.Thread(target=pump, daemon=True, name="stdin").start()


async def chat(client: StaffClient, out: TextIO = sys.stdout) -> int:
    out.write("waiting for a young person in the queue...\n")
    out.flush()
    await client.wait_until(lambda: bool(client.queue_entries), timeout=WAIT_FOR_QUEUE_SECONDS)
    cid = str(client.queue_entries[0]["conversation_id"])
    await client.accept(cid)
    out.write(f"accepted {cid}. {HELP}\n")
    out.flush()
    typed: asyncio.Queue[str | None] = asyncio.Queue()
    _read_lines(asyncio.get_running_loop(), typed)
    shown: set[int] = set()  # seqs printed, or typed here (not printed back)
    while True:
        for m in await client.read(cid):
            if m.seq not in shown:
                shown.add(m.seq)
                _show(m, out)
        try:
            line = await asyncio.wait_for(typed.get(), POLL_SECONDS)
        except TimeoutError:
            continue
        if line is None or line == "/end":
            await client.end(cid)
            out.write("chat ended.\n")
            out.flush()
            return 0
        if line == "/offer":
            await client.offer_handover(cid)
            out.write("police handover offered; the young person decides.\n")
            out.flush()
        elif line.strip():
            shown.add(int((await client.send_text(cid, line))["seq"]))


async def run(settings: Settings, args: argparse.Namespace) -> int:
    url = args.url or f"http://{settings.host}:{settings.port}"
    ring = await _keyring(settings, args.user)
    client = await StaffClient.signed_in(url, args.user, _demo_password(settings, args.user),
                                              keyring=ring)
    try:
        await client.load_grants()
        return await chat(client)
    finally:
        await client.disconnect()
