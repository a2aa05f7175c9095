"""The `helpline` command: serve, manage staff accounts and keys, export transcripts.

    helpline serve [--host H] [--port P] [--demo]
    helpline counsel [--user counsellor1] [--url URL]   (demo: a counsellor in the terminal)
    helpline users add NAME --role counsellor|supervisor|police|admin [--languages nl,en]
    helpline users list
    helpline users disable NAME
    helpline keys init | rotate | publish | show | prune   (private keys stay in the keys folder)
    helpline keys approve USER FINGERPRINT --signing-fingerprint FP --role ROLE
    helpline keys grant USER [--period P]...
    helpline keys revoke USER|FINGERPRINT
    helpline keys police-import FILE --fingerprint FP
    helpline keys police-init                        (on the police unit's own machine)
    helpline keys police-grant USER --fingerprint FP --signing-fingerprint FP   (police machine)
    helpline transcript export CONVERSATION --key FILE [--format text|json]
    helpline audit verify [--checkpoints FILE] [--public-key HEX] | checkpoint | public-key
    helpline audit show [--start N] [--limit M]
    helpline stats export [--format csv|json]
    helpline widget export DIR --server URL       (the widget for a separate static origin)

Without REDIS_URL every command uses the embedded Redis in the data folder (starting
it if no other helpline process has).

One module per command group (`serve`, `counsel`, `users`, `keys`, `transcript`, `audit`,
`stats`, `widget`), each with its `add_parser` and `run`; `demo` holds `serve --demo`'s set-up
and `common` what several groups share.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from helpline.cli import audit, counsel, keys, serve, stats, transcript, users, widget
from helpline.config import ConfigError, load_settings
from helpline.crypto.errors import CryptoError
from helpline.errors import HelplineError


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # APScheduler logs every run at INFO; our jobs log their own outcome.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    if args.command == "serve":  # runs its own event loop, until a signal
        return serve.run(settings, args)
    commands = {"users": users.run, "keys": keys.run, "transcript": transcript.run,
                "audit": audit.run, "stats": stats.run, "counsel": counsel.run,
                "widget": widget.run}
    if args.command in commands:
        try:
            return asyncio.run(commands[args.command](settings, args))
        except (HelplineError, CryptoError) as exc:
            print(f"error ({exc.code}): {exc}", file=sys.stderr)
            return 1
    parser.print_help()
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="helpline", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    # The order of `helpline --help`.
    for group in (serve, counsel, users, keys, stats, audit, transcript, widget):
        group.add_parser(sub)
    return parser
