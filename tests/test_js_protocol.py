"""The protocol through the clients our users run: tests/js/protocol.test.mjs drives a
young person and a counsellor with the stock npm socket.io-client (pinned in
package.json, installed by `npm ci`) against a real server process and Redis.

The Python client forgives what the browser's refuses (socket.io-parser 4.2.6+ drops a
connection on a packet with more than 10 binary attachments), so this is the test that
keeps docs/protocol.md true for browsers."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from helpline.crypto.returncode import new_code
from tests.conftest import ALLOWED_ORIGIN, PASSWORD, Harness, ServerProcess

ROOT = Path(__file__).resolve().parents[1]


async def test_stock_socket_io_client_runs_a_whole_conversation(
    harness: Harness, server: ServerProcess
) -> None:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "socket.io-client").is_dir():
        pytest.fail("Node 20+ and `npm ci` are needed (./dev setup runs npm ci)")
    await harness.init_keys()
    await harness.add_staff("carmen")
    env = {**os.environ, "HELPLINE_URL": server.url, "HELPLINE_ORIGIN": ALLOWED_ORIGIN,
           "HELPLINE_STAFF_USER": "carmen", "HELPLINE_STAFF_PASSWORD": PASSWORD,
           "HELPLINE_RETURN_CODE": new_code()}
    proc = await asyncio.create_subprocess_exec(
        node, "--test", "--test-reporter=spec", str(ROOT / "tests" / "js" / "protocol.test.mjs"),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 110)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text + "\n--- server log ---\n" + server.log()[-3000:]
    assert "pass 1" in text and "fail 0" in text, text
