"""The shared vectors checked by JavaScript: `tests/vectors/check_vectors.mjs` in Node,
with the npm packages the browser apps use (@hpke/core, @hpke/dhkem-x25519,
@noble/hashes, WebCrypto), installed by `./dev setup` with `npm ci`.

The check is written from docs/crypto.md, not from the Python code, so it fails when
the two languages stop agreeing on a byte. It also makes a wrap, an envelope and the
other JS-made artefacts, which Python must open.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "@hpke" / "core").is_dir():
        pytest.fail("Node 20+ and `npm ci` are needed for the JavaScript vector check "
                    "(./dev setup runs npm ci when node is installed)")
    return node


def test_javascript_checks_every_vector_file(tmp_path: Path) -> None:
    out = tmp_path / "js-made.json"
    result = subprocess.run(  # our own script, fixed arguments
        [_node(), str(VECTORS / "check_vectors.mjs"), str(VECTORS), str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "JS checks passed" in result.stdout
    made = json.loads(out.read_text())
    assert {"wrap", "envelope"} <= set(made)
