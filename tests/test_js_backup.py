"""The console's staff device backup and non-extractable keyring in Node.

tests/js/backup.test.mjs (Node's test runner) checks moderation/src/crypto/backup.js
against tests/vectors/staff-backup.json and StaffKeyring's non-extractable device keys
against the shared wrap and statement vectors; it also writes a real backup (600,000
iterations, made by StaffKeyring.generateForDevice and makeBackup), which Python must
open to the same device fingerprints, and refuse with a wrong passphrase.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from helpline.crypto.backup import ITERATIONS, open_backup, parse_backup
from helpline.crypto.errors import CryptoError

ROOT = Path(__file__).resolve().parents[1]


def test_the_console_backup_passes_in_node_and_opens_in_python(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "@hpke" / "core").is_dir():
        pytest.fail("Node 20+ and `npm ci` are needed (./dev setup runs npm ci)")
    out = tmp_path / "console-backup.json"
    proc = subprocess.run(  # our own test file, fixed arguments
        [node, "--test", str(ROOT / "tests" / "js" / "backup.test.mjs")], cwd=ROOT,
        env={**os.environ, "HELPLINE_BACKUP_OUT": str(out)}, capture_output=True, text=True,
        timeout=120, check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    passed = re.search(r"^# pass (\d+)$", text, re.MULTILINE)
    assert passed is not None and int(passed.group(1)) >= 6, text
    assert re.search(r"^# fail 0$", text, re.MULTILINE), text

    made = json.loads(out.read_text())
    assert parse_backup(made["text"]).iterations == ITERATIONS
    keys = open_backup(made["text"], made["passphrase"], pinned_fingerprint=made["pin"])
    assert keys.username == "anna"
    assert {"encryption": keys.encryption.public.fingerprint,
            "signing": keys.signing.public.fingerprint} == made["fingerprints"]
    with pytest.raises(CryptoError) as refused:
        open_backup(made["text"], made["passphrase"].upper(), pinned_fingerprint=made["pin"])
    assert refused.value.code == "backup_unlock_failed"
