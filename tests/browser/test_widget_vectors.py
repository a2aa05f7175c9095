"""The shared crypto vectors (tests/vectors/) through the widget's crypto library in a real
Chromium, not only in Node: the same checks (tests/js/vector_checks.mjs) bundled with
esbuild for the browser, run with the browser's own WebCrypto on a secure-context page
(http://127.0.0.1) served by a small aiohttp server, which also serves the vector files.

The Node run (tests/js/crypto.test.mjs, as tests/test_js_crypto.py runs it) goes in the
same test: the browser must pass exactly as many checks, file by file, with no failure.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.browser.conftest import ROOT, Browser, hosts, until_js

VECTORS = ROOT / "tests" / "vectors"
ENTRY = ROOT / "tests" / "js" / "vectors_browser.mjs"
NODE_SCRIPT = ROOT / "tests" / "js" / "crypto.test.mjs"
ESBUILD = ROOT / "node_modules" / ".bin" / "esbuild"
# What the Node run passes today (481); a floor so that neither side can pass by checking
# next to nothing.
FLOOR = 400
# Like the chat app's own page: scripts and fetches from this origin only, no eval.
CSP = ("default-src 'none'; script-src 'self'; connect-src 'self'; base-uri 'none'; "
       "form-action 'none'")
PAGE = ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>vectors</title>"
        '<script type="module" src="/vectors.js"></script></head>'
        '<body><pre id="result">running</pre></body></html>')


async def _run(*argv: str, timeout: float = 60) -> tuple[int, str]:
    """A process in the repository root; (exit code, stdout + stderr)."""
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def _node_counts() -> tuple[int, dict[str, int]]:
    """What the Node entry point passes: (checks, checks per file); it must fail none."""
    node = shutil.which("node")
    assert node is not None
    code, text = await _run(node, str(NODE_SCRIPT), str(VECTORS))
    assert code == 0, text
    total = re.search(r"vector checks passed: (\d+), failed: 0", text)
    per_file = re.search(r"vectors passed per file: (\{.*\})", text)
    assert total is not None and per_file is not None, text
    counts = json.loads(per_file.group(1))
    assert isinstance(counts, dict)
    return int(total.group(1)), counts


async def _bundle(out: Path) -> None:
    """tests/js/vectors_browser.mjs and what it imports, as one ES module for the browser."""
    code, text = await _run(str(ESBUILD), str(ENTRY.relative_to(ROOT)), "--bundle",
                            "--format=esm", "--platform=browser", "--target=es2022",
                            "--log-level=warning", f"--outfile={out}")
    assert code == 0, text


def _site(bundle: Path) -> dict[str, tuple[bytes, str]]:
    """What the server serves, by path: (body, content type)."""
    files = {"/": (PAGE.encode(), "text/html; charset=utf-8"),
             "/vectors.js": (bundle.read_bytes(), "text/javascript; charset=utf-8")}
    for path in sorted(VECTORS.glob("*.json")):
        files[f"/vectors/{path.name}"] = (path.read_bytes(), "application/json")
    return files


@asynccontextmanager
async def _serve(files: dict[str, tuple[bytes, str]]) -> AsyncIterator[str]:
    """The files on a loopback port (a secure context for the browser); yields the origin."""

    async def serve(request: web.Request) -> web.Response:
        if request.path not in files:
            raise web.HTTPNotFound()
        body, content_type = files[request.path]
        return web.Response(body=body, headers={"Content-Type": content_type,
                                                "Content-Security-Policy": CSP,
                                                "Cache-Control": "no-store"})

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.mark.timeout(60)
async def test_the_widget_library_passes_every_vector_in_chromium_as_in_node(
    browser: Browser, tmp_path: Path,
) -> None:
    if shutil.which("node") is None or not ESBUILD.exists():
        pytest.fail("Node 20+ and `npm ci` are needed (./dev setup runs npm ci)")
    bundle = tmp_path / "vectors.js"
    # The Node run and the bundling at once (each ~1 s).
    (node_checks, node_counts), _ = await asyncio.gather(_node_counts(), _bundle(bundle))
    assert node_checks >= FLOOR, node_checks

    page = await browser.page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    async with _serve(_site(bundle)) as origin:
        await page.goto(f"{origin}/")
        assert await page.evaluate("isSecureContext && !!crypto.subtle")
        try:
            result: dict[str, Any] = await until_js(page, "() => globalThis.__vectorResult",
                                                    timeout=30)
        except AssertionError as e:
            pytest.fail(f"no result from the page ({e}); {problems}")

    assert "error" not in result, f"{result['error']}\n{problems}"
    failures = result["failures"]
    assert failures == [], "\n".join(["browser failures:", *failures, *problems])
    assert result["checks"] == node_checks, (result["checks"], node_checks, problems)
    assert result["counts"] == node_counts, (result["counts"], node_counts)
    assert problems == [], problems
    # Everything came from the page's own origin: nothing else was asked for.
    assert hosts(browser.requests) == {origin.removeprefix("http://")}, browser.requests
