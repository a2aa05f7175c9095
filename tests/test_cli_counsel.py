"""`helpline counsel`: the demo counsellor in a terminal chats end to end with a young
person (the real command as a subprocess, a real server, the Python youth client)."""

from __future__ import annotations

import asyncio
import sys
from asyncio.subprocess import PIPE, STDOUT

from helpline.cli.demo import ensure_demo_accounts, ensure_demo_keys
from helpline.config import load_settings
from tests.conftest import Harness, ServerProcess, free_port


async def _output_has(proc: asyncio.subprocess.Process, lines: list[str], want: str,
                      timeout: float = 20) -> None:
    assert proc.stdout is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not any(want in line for line in lines):
        assert loop.time() < deadline, f"no {want!r} in:\n{''.join(lines)}"
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout)).decode()
        assert line, f"the command exited:\n{''.join(lines)}"
        lines.append(line)


async def _type(proc: asyncio.subprocess.Process, line: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(line.encode() + b"\n")
    await proc.stdin.drain()


async def test_the_demo_counsellor_chats_with_a_young_person_end_to_end(harness: Harness
                                                                        ) -> None:
    env = harness.env()
    settings = load_settings(env)
    await ensure_demo_accounts(settings)
    pin = await ensure_demo_keys(settings)
    port = free_port()
    srv = ServerProcess(env, port, log_path=harness.tmp / "server-counsel.log")
    srv.start()
    harness.servers.append(srv)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "helpline", "counsel", "--url", srv.url,
        env=env, stdin=PIPE, stdout=PIPE, stderr=STDOUT, cwd=env["HELPLINE_DATA_DIR"])
    out: list[str] = []
    try:
        await _output_has(proc, out, "waiting for a young person")
        youth = await harness.secure_youth(srv, fingerprint=pin)
        await _output_has(proc, out, "accepted")
        await youth.send_text("ze hebben mijn telefoon afgepakt")
        await _output_has(proc, out, "[young person] ze hebben mijn telefoon afgepakt")
        await _type(proc, "Je bent hier veilig.")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while "Je bent hier veilig." not in [m.text for m in await youth.read()]:
            assert loop.time() < deadline, await youth.read()
            await asyncio.sleep(0.2)
        await _type(proc, "/end")
        await _output_has(proc, out, "chat ended.")
        assert await asyncio.wait_for(proc.wait(), 10) == 0
        await youth.wait_for("state", lambda d: d.get("state") == "ended", timeout=10)
        # What the counsellor typed is not printed back as if someone else said it.
        assert not [line for line in out if "Je bent hier veilig." in line]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
