"""`helpline serve [--host H] [--port P] [--demo]`: run the server (aiohttp, without an
access log) until SIGINT or SIGTERM, on the embedded Redis when REDIS_URL is unset.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from aiohttp import web

from helpline.app import check_settings, create_app
from helpline.cli.common import resolve_redis
from helpline.cli.demo import (
    DEMO_FILE,
    backup_path,
    demo_backup_passphrase,
    ensure_demo_accounts,
    ensure_demo_keys,
)
from helpline.config import ConfigError, Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("serve", help="run the server")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8080)")
    parser.add_argument("--demo", action="store_true",
                        help="create demo staff accounts on first start and print them")


def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.host:
        settings = settings.with_overrides(host=args.host)
    if args.port is not None:
        settings = settings.with_overrides(port=args.port)
    return serve(settings, demo=args.demo)


def serve(settings: Settings, demo: bool) -> int:
    try:
        check_settings(settings)
    except ConfigError as exc:  # fail before starting anything
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    settings, embedded = resolve_redis(settings)
    where = f"embedded, in {settings.data_dir / 'redis'}" if embedded else "external (REDIS_URL)"
    try:
        return asyncio.run(_run_server(settings, demo, where))
    finally:
        if embedded:
            embedded.stop()



async def _run_server(settings: Settings, demo: bool, redis_where: str) -> int:
    logins = await ensure_demo_accounts(settings) if demo else []
    signing_fp = await ensure_demo_keys(settings) if demo else None
    if demo:  # the demo host page, pinning the demo's own signing key
        settings = settings.with_overrides(
            widget_demo=True, pinned_fingerprint=settings.pinned_fingerprint or signing_fp)
    app = create_app(settings)
    # access_log=None: an access log would record addresses and user agents.
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    port = runner.addresses[0][1] if runner.addresses else settings.port
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    base = f"http://{settings.host}:{port}"
    print(f"helpline listening on {base}", flush=True)
    print(f"  health:   {base}/healthz", flush=True)
    print(f"  sockets:  {base}/socket.io/ (namespaces /youth and /staff)", flush=True)
    print(f"  login:    POST {base}/api/login", flush=True)
    print(f"  redis:    {redis_where}", flush=True)
    if settings.widget_demo:
        print(f"  chat:     {base}/chat   demo host page: {base}/demo", flush=True)
    if logins:
        print("demo staff logins (also in " f"{settings.data_dir / DEMO_FILE}):", flush=True)
        for name, role, password in logins:
            print(f"  {name:<12} {role:<11} {password}", flush=True)
    if signing_fp:
        print(f"demo keys: signing fingerprint {signing_fp}", flush=True)
        print(f"  device keys of the demo accounts: {settings.data_dir / 'demo-devices'}",
              flush=True)
        print(f"console:    {base}/console   sign in with a demo login, then \"Restore from a "
              "backup file\":", flush=True)
        print(f"  file {backup_path(settings, '<login>')}, passphrase "
              f"{demo_backup_passphrase(settings)}", flush=True)
        print("play a counsellor in another terminal: .venv/bin/helpline counsel", flush=True)
    await stop.wait()
    await runner.cleanup()
    return 0
