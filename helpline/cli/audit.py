"""`helpline audit verify | checkpoint | public-key | show`: the hash-chained audit log
and its signed checkpoints outside Redis."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from helpline.cli.common import open_store
from helpline.config import Settings
from helpline.crypto.encoding import hex_decode
from helpline.crypto.errors import CryptoError
from helpline.crypto.keys import SigningPublicKey
from helpline.services.audit import Anchor, AuditLog, load_audit_key, read_checkpoint_lines
from helpline.services.ports import SystemClock


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = sub.add_parser("audit", help="the hash-chained audit log of staff actions")
    audit_sub = audit.add_subparsers(dest="action", required=True)
    verify = audit_sub.add_parser(
        "verify", help="check the chain and its signed checkpoints; name the first broken one")
    verify.add_argument("--checkpoints",
                        help="checkpoint file (default HELPLINE_AUDIT_CHECKPOINT_FILE), "
                             "e.g. an off-host copy")
    verify.add_argument("--public-key",
                        help="the audit key's public key (hex); default: from the key file")
    audit_sub.add_parser("checkpoint", help="sign a checkpoint of the head now")
    audit_sub.add_parser("public-key", help="print the audit key's public key (hex)")
    show = audit_sub.add_parser("show", help="print entries as JSON lines")
    show.add_argument("--start", type=int, default=0)
    show.add_argument("--limit", type=int, default=100)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    key_file = settings.resolved_audit_key_file
    if args.action == "public-key":
        if not key_file.exists():
            print(f"no audit key at {key_file} (the server makes it at first start)",
                  file=sys.stderr)
            return 1
        print(load_audit_key(key_file).public.raw.hex())
        return 0
    async with open_store(settings) as store:
        log = AuditLog(store, SystemClock())
        if args.action == "show":
            for entry in await log.entries(max(args.start, 0), max(min(args.limit, 1000), 1)):
                print(entry.to_json())
            return 0
        if args.action == "checkpoint":
            if not key_file.exists():
                # Never make a key here: a second key would sign a second, unrelated
                # series of checkpoints. The server makes the one key at first start.
                print(f"no audit key at {key_file}: run this on the server host",
                      file=sys.stderr)
                return 1
            log.anchor = Anchor(load_audit_key(key_file), settings.resolved_audit_checkpoint_file)
            point = await log.checkpoint()
            if point is None:
                print("no new entries since the last checkpoint")
            else:
                print(f"checkpoint: {point.count} entries, head {point.head}")
            return 0
        return await _audit_verify(settings, args, log)


async def _audit_verify(settings: Settings, args: argparse.Namespace, log: AuditLog) -> int:
    """Check the chain and every checkpoint in the file; exit 1 on the first problem."""
    path = Path(args.checkpoints) if args.checkpoints else settings.resolved_audit_checkpoint_file
    lines = read_checkpoint_lines(path)
    public: SigningPublicKey | None = None
    if args.public_key:
        try:
            public = SigningPublicKey(hex_decode(args.public_key, 32))
        except CryptoError:
            print("--public-key must be 64 lowercase hex characters", file=sys.stderr)
            return 2
    elif settings.resolved_audit_key_file.exists():
        public = load_audit_key(settings.resolved_audit_key_file).public
    if lines is not None and public is None:
        print(f"checkpoints in {path} but no audit key here: pass --public-key "
              "(`helpline audit public-key` on the server prints it)", file=sys.stderr)
        return 2
    check = await log.verify(lines, public)
    if not check.ok:
        where = f" at entry {check.first_broken}" if check.first_broken is not None else ""
        print(f"audit log BROKEN{where} ({check.code}): {check.reason}", file=sys.stderr)
        return 1
    print(f"audit log intact: {check.entries} entries")
    if lines is None:
        print(f"WARNING: no checkpoint file at {path}: the chain is not anchored outside "
              "Redis, so a consistent rewrite would not be noticed")
    else:
        print(f"{check.checkpoints} checkpoint(s) verified; "
              f"{check.entries - check.anchored} entries after the last one")
    return 0
