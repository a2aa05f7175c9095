"""The `helpline` command: serve, manage staff accounts and keys, export transcripts.

    helpline serve [--host H] [--port P] [--demo]
    helpline users add NAME --role counsellor|supervisor|police|admin [--languages nl,en]
    helpline users list
    helpline users disable NAME
    helpline keys init | rotate | publish | show       (private keys stay in the keys folder)
    helpline keys grant USER [--expect-fingerprint FP]
    helpline transcript export CONVERSATION --key FILE [--format text|json]
    helpline audit verify | show [--start N] [--limit M]
    helpline stats export [--format csv|json]

Without REDIS_URL every command uses the embedded Redis in the data folder (starting
it if no other helpline process has).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import getpass
import json
import logging
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from aiohttp import web

from helpline.app import check_settings, create_app
from helpline.config import ConfigError, Settings, load_settings
from helpline.crypto.errors import CryptoError
from helpline.crypto.keyfile import (
    read_encryption_key_file,
    read_signing_key_file,
    write_unencrypted_key_file,
)
from helpline.crypto.keys import EncryptionKeyPair, KeyKind, SigningKeyPair, fingerprint
from helpline.domain.retention import RetentionPolicy
from helpline.domain.roles import Role
from helpline.embedded_redis import EmbeddedRedis, start_embedded_redis
from helpline.errors import Conflict, HelplineError
from helpline.services.accounts import AccountPolicy, AccountService
from helpline.services.audit import AuditLog
from helpline.services.keyadmin import KeyAdmin, KeyPolicy
from helpline.services.ports import SystemClock
from helpline.services.retention import RetentionService
from helpline.services.transcripts import export_transcript
from helpline.storage.redis_store import RedisStore, connect_redis

DEMO_ACCOUNTS = (
    ("counsellor1", Role.COUNSELLOR, ("nl", "en")),
    ("counsellor2", Role.COUNSELLOR, ("nl", "en", "pl")),
    ("supervisor", Role.SUPERVISOR, ("nl", "en")),
    ("police", Role.POLICE, ("nl",)),
    ("admin", Role.ADMIN, ()),
)
DEMO_FILE = "demo-logins.txt"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
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
    if args.command == "serve":
        if args.host:
            settings = settings.with_overrides(host=args.host)
        if args.port is not None:
            settings = settings.with_overrides(port=args.port)
        return _serve(settings, demo=args.demo)
    commands = {"users": _users, "keys": _keys, "transcript": _transcript, "audit": _audit,
                "stats": _stats}
    if args.command in commands:
        try:
            return asyncio.run(commands[args.command](settings, args))
        except (HelplineError, CryptoError) as exc:
            print(f"error ({exc.code}): {exc}", file=sys.stderr)
            return 1
    parser.print_help()
    return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="helpline", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument("--demo", action="store_true",
                       help="create demo staff accounts on first start and print them")
    users = sub.add_parser("users", help="manage staff accounts")
    users_sub = users.add_subparsers(dest="action", required=True)
    add = users_sub.add_parser("add", help="add an account; password from stdin or prompt")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--languages", default="", help="comma-separated, e.g. nl,en,pl")
    add.add_argument("--generate", action="store_true",
                     help="generate a strong password and print it")
    users_sub.add_parser("list", help="list accounts")
    disable = users_sub.add_parser("disable", help="disable an account and drop its sessions")
    disable.add_argument("name")

    keys = sub.add_parser("keys", help="manage end-to-end encryption keys (admin machine)")
    keys.add_argument("--passphrase-file",
                      help="file holding the key files' passphrase (default: prompt or stdin)")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    keys_sub.add_parser("init", help="make the signing key, first team key and police key")
    keys_sub.add_parser("rotate", help="make the next team key; new conversations use it")
    keys_sub.add_parser("publish", help="publish the signing key again (e.g. to a new Redis)")
    keys_sub.add_parser("show", help="print the signing fingerprint and published keys")
    keys_sub.add_parser("prune", help="delete the key files of retired team periods")
    grant = keys_sub.add_parser("grant", help="grant keys to a staff member's device")
    grant.add_argument("name")
    grant.add_argument("--expect-fingerprint",
                       help="refuse unless the device key has this fingerprint")

    stats = sub.add_parser("stats", help="anonymous statistics of closed conversations")
    stats_sub = stats.add_subparsers(dest="action", required=True)
    stats_export = stats_sub.add_parser("export", help="finished weeks, small cells hidden")
    stats_export.add_argument("--format", choices=["csv", "json"], default="csv")

    audit = sub.add_parser("audit", help="the hash-chained audit log of staff actions")
    audit_sub = audit.add_subparsers(dest="action", required=True)
    audit_sub.add_parser("verify", help="check the chain; name the first broken link")
    show = audit_sub.add_parser("show", help="print entries as JSON lines")
    show.add_argument("--start", type=int, default=0)
    show.add_argument("--limit", type=int, default=100)

    transcript = sub.add_parser("transcript", help="read transcripts with a granted key")
    transcript_sub = transcript.add_subparsers(dest="action", required=True)
    export = transcript_sub.add_parser("export", help="decrypt one conversation")
    export.add_argument("conversation")
    export.add_argument("--key", required=True, help="a granted staff device's key file")
    export.add_argument("--passphrase-file", help="passphrase of the key file, if any")
    export.add_argument("--pin", help="expected signing-key fingerprint")
    export.add_argument("--format", choices=["text", "json"], default="text")
    return parser


def _resolve_redis(settings: Settings) -> tuple[Settings, EmbeddedRedis | None]:
    if settings.redis_url:
        return settings, None
    embedded = start_embedded_redis(settings.data_dir)
    return settings.with_overrides(redis_url=embedded.url), embedded


@contextlib.asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[RedisStore]:
    """The store for a command: REDIS_URL, or the embedded Redis (started if needed and
    stopped again if this command started it)."""
    settings, embedded = _resolve_redis(settings)
    assert settings.redis_url
    store = RedisStore(connect_redis(settings.redis_url, 4), settings.key_prefix)
    try:
        yield store
    finally:
        await store.close()
        if embedded:
            embedded.stop()


def _accounts(store: RedisStore, settings: Settings) -> AccountService:
    return AccountService(store, SystemClock(), AccountPolicy(
        session_ttl_seconds=settings.session_ttl_seconds,
        login_max_failures=settings.login_max_failures,
        login_lock_seconds=settings.login_lock_seconds,
        scrypt_log2_n=settings.scrypt_log2_n,
    ))


async def _users(settings: Settings, args: argparse.Namespace) -> int:
    async with _store(settings) as store:
        accounts = _accounts(store, settings)
        if args.action == "add":
            password = _read_password(args.generate)
            languages = tuple(x.strip() for x in args.languages.split(",") if x.strip())
            await accounts.add_user(args.name, Role(args.role), password, languages)
            print(f"added {args.name} ({args.role})")
            if args.generate:
                print(f"password: {password}")
        elif args.action == "list":
            for member in await accounts.list_users():
                state = "disabled" if member.disabled else "active"
                langs = ",".join(member.languages) or "-"
                print(f"{member.username}\t{member.role.value}\t{state}\t{langs}")
        elif args.action == "disable":
            revoked = await accounts.disable_user(args.name)
            print(f"disabled {args.name}; revoked {revoked} session(s)")
    return 0


def _read_passphrase(path: str | None, prompt: str = "key passphrase: ") -> bytes:
    path = path or os.environ.get("HELPLINE_KEYS_PASSPHRASE_FILE")
    if path:
        return Path(path).read_bytes().rstrip(b"\r\n")
    if sys.stdin.isatty():
        return getpass.getpass(prompt).encode()
    return sys.stdin.readline().rstrip("\n").encode()


def _key_admin(settings: Settings, store: RedisStore, passphrase: bytes) -> KeyAdmin:
    return KeyAdmin(store, settings.resolved_keys_dir, passphrase, SystemClock(),
                    KeyPolicy(period_days=settings.key_period_days,
                              police_unit=settings.police_unit))


async def _keys(settings: Settings, args: argparse.Namespace) -> int:
    async with _store(settings) as store:
        if args.action == "show":
            signing = await store.get_signing_key()
            if signing is None:
                print("no keys published; run `helpline keys init`")
                return 1
            print(f"signing fingerprint: {fingerprint(signing, KeyKind.ED25519)}")
            print(f"current team period: {await store.get_current_period()}")
            for period in sorted(await store.get_team_statements()):
                print(f"team key: {period}")
            return 0
        admin = _key_admin(settings, store, _read_passphrase(args.passphrase_file))
        if args.action == "init":
            fp = await admin.init()
            print(f"keys made in {settings.resolved_keys_dir}")
            print(f"signing fingerprint (put it in the widget's embed snippet): {fp}")
        elif args.action == "rotate":
            period, granted = await admin.rotate()
            print(f"new team key for period {period}; granted to: {', '.join(granted) or '-'}")
        elif args.action == "prune":
            removed = await admin.prune()
            print(f"deleted the key files of: {', '.join(removed) or 'no period'}")
        elif args.action == "publish":
            print(f"published; signing fingerprint {await admin.publish()}")
        elif args.action == "grant":
            granted = await admin.grant(args.name, args.expect_fingerprint)
            device = await store.get_device(args.name)
            fp = fingerprint(device["encryption"], KeyKind.X25519)
            print(f"granted {', '.join(granted) or 'a staff statement only'} to {args.name}")
            print(f"device key fingerprint: {fp} (compare it with the one on their device)")
    return 0


async def _transcript(settings: Settings, args: argparse.Namespace) -> int:
    passphrase = _read_passphrase(args.passphrase_file) if args.passphrase_file else None
    device_key = read_encryption_key_file(Path(args.key), passphrase)
    async with _store(settings) as store:
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


async def _stats(settings: Settings, args: argparse.Namespace) -> int:
    async with _store(settings) as store:
        service = RetentionService(store, None, SystemClock(), AuditLog(store, SystemClock()),
                                   _retention_policy(settings))
        out = await service.export(args.format)
    print(out if isinstance(out, str) else json.dumps(out, indent=1), end="")
    return 0


def _retention_policy(settings: Settings) -> RetentionPolicy:
    return RetentionPolicy(days=settings.retention_days,
                           police_days=settings.police_retention_days,
                           idle_hours=settings.idle_hours)


async def _audit(settings: Settings, args: argparse.Namespace) -> int:
    async with _store(settings) as store:
        log = AuditLog(store, SystemClock())
        if args.action == "show":
            for entry in await log.entries(max(args.start, 0), max(min(args.limit, 1000), 1)):
                print(entry.to_json())
            return 0
        check = await log.verify()
    if check.ok:
        print(f"audit log intact: {check.entries} entries")
        return 0
    print(f"audit log BROKEN at entry {check.first_broken}: {check.reason}", file=sys.stderr)
    return 1


def _read_password(generate: bool) -> str:
    if generate:
        return secrets.token_urlsafe(15)
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if first != getpass.getpass("again: "):
            raise HelplineError("The two passwords differ.")
        return first
    return sys.stdin.readline().rstrip("\n")


async def _ensure_demo_accounts(settings: Settings) -> list[tuple[str, str, str]]:
    """Create the demo accounts that are missing; return every known demo login."""
    path = settings.data_dir / DEMO_FILE
    known: dict[str, tuple[str, str]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, role, password = line.split("\t")
            known[name] = (role, password)
    async with _store(settings) as store:
        accounts = _accounts(store, settings)
        existing = {m.username for m in await accounts.list_users()}
        for name, role, languages in DEMO_ACCOUNTS:
            if name in existing:
                continue
            password = secrets.token_urlsafe(12)
            try:
                await accounts.add_user(name, role, password, languages)
            except Conflict:
                continue
            known[name] = (role.value, password)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        for name, (role_s, password) in known.items():
            f.write(f"{name}\t{role_s}\t{password}\n")
    return [(name, role_s, password) for name, (role_s, password) in known.items()]


def _serve(settings: Settings, demo: bool) -> int:
    try:
        check_settings(settings)
    except ConfigError as exc:  # fail before starting anything
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    settings, embedded = _resolve_redis(settings)
    where = f"embedded, in {settings.data_dir / 'redis'}" if embedded else "external (REDIS_URL)"
    try:
        return asyncio.run(_run_server(settings, demo, where))
    finally:
        if embedded:
            embedded.stop()


async def _ensure_demo_keys(settings: Settings) -> str:
    """Demo only: organisation keys with a passphrase kept beside them, and a device key
    per demo account, registered and granted, so the first chat is encrypted at once.
    A real deployment keeps the keys folder and passphrase off the server."""
    data = settings.data_dir
    passphrase_path = data / "demo-keys-passphrase"
    if not passphrase_path.exists():
        fd = os.open(passphrase_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(24))
    async with _store(settings) as store:
        admin = _key_admin(settings, store, passphrase_path.read_bytes())
        if not (settings.resolved_keys_dir / "signing.pem").exists():
            await admin.init()
        fp = await admin.publish()
        devices = data / "demo-devices"
        devices.mkdir(mode=0o700, exist_ok=True)
        for name, _, _ in DEMO_ACCOUNTS:
            enc_path, sig_path = devices / f"{name}.encryption.pem", devices / f"{name}.signing.pem"
            if not enc_path.exists():
                enc, sig = EncryptionKeyPair.generate(), SigningKeyPair.generate()
                write_unencrypted_key_file(enc_path, enc)
                write_unencrypted_key_file(sig_path, sig)
            enc = read_encryption_key_file(enc_path, None)
            sig = read_signing_key_file(sig_path, None)
            await store.set_device(name, enc.public.raw, sig.public.raw)
            await admin.grant(name)
        return fp


async def _run_server(settings: Settings, demo: bool, redis_where: str) -> int:
    logins = await _ensure_demo_accounts(settings) if demo else []
    signing_fp = await _ensure_demo_keys(settings) if demo else None
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
    if logins:
        print("demo staff logins (also in " f"{settings.data_dir / DEMO_FILE}):", flush=True)
        for name, role, password in logins:
            print(f"  {name:<12} {role:<11} {password}", flush=True)
    if signing_fp:
        print(f"demo keys: signing fingerprint {signing_fp}", flush=True)
        print(f"  device keys of the demo accounts: {settings.data_dir / 'demo-devices'}",
              flush=True)
    await stop.wait()
    await runner.cleanup()
    return 0
