"""The widget's crypto library (widgets/src/crypto/) against the shared vectors.

tests/js/crypto.test.mjs runs every file in tests/vectors/ through the library the
widget ships (not the reference checks in tests/vectors/check_*.mjs), valid and
invalid cases, and writes an epoch wrap, a statement and an envelope it made itself;
this test then opens those with the Python library, so both directions are checked.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from helpline.crypto.envelope import Sender, SenderRole, open_envelope
from helpline.crypto.epochs import (
    check_epoch_key,
    epoch_statement_from_wire,
    verify_epoch_statement,
)
from helpline.crypto.keyring import read_plaintext
from helpline.crypto.keys import EncryptionKeyPair, SigningPublicKey
from helpline.crypto.wrap import unwrap_conversation_key

ROOT = Path(__file__).resolve().parents[1]


def test_the_widget_library_passes_every_vector_and_python_opens_what_it_makes(
    tmp_path: Path,
) -> None:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "@hpke" / "core").is_dir():
        pytest.fail("Node 20+ and `npm ci` are needed (./dev setup runs npm ci)")
    out = tmp_path / "js-library-made.json"
    proc = subprocess.run(
        [node, str(ROOT / "tests" / "js" / "crypto.test.mjs"), str(ROOT / "tests" / "vectors"),
         str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    match = re.search(r"vector checks passed: (\d+), failed: 0", text)
    assert match is not None and int(match.group(1)) > 400, text

    made = json.loads(out.read_text())
    cid, epoch = made["conversation_id"], made["epoch"]
    team = EncryptionKeyPair.from_private_bytes(bytes.fromhex(made["recipient_private_key"]))
    key = unwrap_conversation_key(bytes.fromhex(made["wrapped"]), team,
                                  conversation_id=cid, epoch=epoch)
    assert key.hex() == made["epoch_key"]
    youth = SigningPublicKey(bytes.fromhex(made["youth_public_key"]))
    statement = verify_epoch_statement(epoch_statement_from_wire(cid, made["statement"]), youth,
                                       conversation_id=cid, epoch=epoch)
    check_epoch_key(statement, key, team.public.fingerprint)
    opened = open_envelope(bytes.fromhex(made["envelope"]), epoch_key=key, conversation_id=cid,
                           epoch=epoch, sender=Sender(youth, SenderRole.YOUTH))
    assert opened.counter == 7
    assert read_plaintext(opened.plaintext) == {"type": "text",
                                                "text": "made by the widget's library"}
