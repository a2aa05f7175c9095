"""The console's built files (helpline/static/console/) are exactly what
moderation/build.mjs makes from the sources: a fresh build into a temporary folder must
give the same files, byte for byte, and two builds the same bytes; together they stay
within the budget of 150 KB gzip (the build fails over it)."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "helpline" / "static" / "console"


async def _build(outdir: Path, *extra: str) -> str:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "esbuild").is_dir():
        pytest.fail("Node 20+ and `npm ci` are needed (./dev setup runs npm ci)")
    proc = await asyncio.create_subprocess_exec(
        node, str(ROOT / "moderation" / "build.mjs"), "--outdir", str(outdir), *extra,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 100)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    return text


async def test_the_shipped_console_is_what_the_sources_build(tmp_path: Path) -> None:
    report = await _build(tmp_path / "fresh", "--report")
    fresh = {p.name: p.read_bytes() for p in (tmp_path / "fresh").iterdir()}
    shipped = {p.name: p.read_bytes() for p in SHIPPED.iterdir()} if SHIPPED.is_dir() else {}
    assert sorted(fresh) == sorted(shipped), (
        "helpline/static/console/ is out of date: run `node moderation/build.mjs`\n" + report)
    differ = [name for name in fresh if fresh[name] != shipped[name]]
    assert not differ, f"rebuild the console (node moderation/build.mjs): {differ} differ"
    for name, data in fresh.items():  # nothing of the machine that built it
        assert str(ROOT).encode() not in data and b"/tmp/" not in data, name
    assert "app.js" in fresh and "style.css" in fresh
    total = re.search(r"console: ([0-9.]+) KB gzip \(budget 150.0 KB\)", report)
    assert total is not None and float(total.group(1)) <= 150, report


async def test_the_console_build_is_deterministic(tmp_path: Path) -> None:
    await _build(tmp_path / "a")
    await _build(tmp_path / "b")
    a = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()}
    b = {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()}
    assert a == b
