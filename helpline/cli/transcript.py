"""`helpline transcript export`: decrypt one conversation with a granted device key."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from helpline.cli.common import open_store, read_passphrase
from helpline.config import Settings
from helpline.crypto.keyfile import read_encryption_key_file
from helpline.services.transcripts import export_transcript


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    transcript = sub.add_parser("transcript", help="read transcripts with a granted key")
    transcript_sub = transcript.add_subparsers(dest="action", required=True)
    export = transcript_sub.add_parser("export", help="decrypt one conversation")
    export.add_argument("conversation")
    export.add_argument("--key", required=True, help="a granted staff device's key file")
    export.add_argument("--passphrase-file", help="passphrase of the key file, if any")
    export.add_argument("--pin", help="expected signing-key fingerprint")
    export.add_argument("--format", choices=["text", "json"], default="text")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    passphrase = read_passphrase(args.passphrase_file) if args.passphrase_file else None
    device_key = read_encryption_key_file(Path(args.key), passphrase)
    async with open_store(settings) as store:
        username, messages = await export_transcript(store, args.conversation, device_key,
                                                     args.pin)
    if args.format == "json":
        print(json.dumps([m.__dict__ for m in messages], ensure_ascii=False, indent=1))
        return 0
    print(f"# conversation {args.conversation}, opened with the key of {username}")
    for m in messages:
        when = dt.datetime.fromtimestamp(m.sent_at / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")
        body = m.text if m.error is None else f"[refused: {m.error}]"
        print(f"{m.seq:>5} {when} {m.sender_role:<10} {m.sender or '-':<14} {body}")
    return 0
