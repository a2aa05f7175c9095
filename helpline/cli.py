"""The `helpline` command: serve, manage staff accounts and keys, export transcripts.

    helpline serve [--host H] [--port P] [--demo]
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
from helpline.crypto.encoding import hex_decode
from helpline.crypto.errors import CryptoError
from helpline.crypto.keyfile import (
    read_encryption_key_file,
    read_signing_key_file,
    write_unencrypted_key_file,
)
from helpline.crypto.keys import (
    EncryptionKeyPair,
    KeyKind,
    SigningKeyPair,
    SigningPublicKey,
    fingerprint,
)
from helpline.domain.retention import RetentionPolicy
from helpline.domain.roles import Role
from helpline.embedded_redis import EmbeddedRedis, start_embedded_redis
from helpline.errors import Conflict, HelplineError
from helpline.services.accounts import AccountPolicy, AccountService
from helpline.services.audit import Anchor, AuditLog, load_audit_key, read_checkpoint_lines
from helpline.services.keyadmin import KeyAdmin, KeyPolicy, PoliceKeyAdmin, local_actor
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
    keys_sub.add_parser("init", help="make the signing key and the first team key")
    keys_sub.add_parser("rotate", help="make the next team key; new conversations use it")
    keys_sub.add_parser("publish", help="publish the signing key, revocations and police"
                                        " statement again (e.g. to a new Redis)")
    keys_sub.add_parser("show", help="print the signing fingerprint and published keys")
    keys_sub.add_parser("prune", help="delete the key files of retired team periods")
    approve = keys_sub.add_parser(
        "approve", help="approve a device by the fingerprints shown on its own screen")
    approve.add_argument("name")
    approve.add_argument("fingerprint", help="the device's encryption (X25519) fingerprint")
    approve.add_argument("--signing-fingerprint", required=True,
                         help="the device's signing (Ed25519) fingerprint")
    approve.add_argument("--role", required=True, choices=[r.value for r in Role])
    grant = keys_sub.add_parser("grant", help="grant keys to an approved device")
    grant.add_argument("name")
    grant.add_argument("--period", action="append", default=None,
                       help="grant this (older) period's team key instead of the current ones")
    revoke = keys_sub.add_parser("revoke", help="revoke a person's device keys or one key")
    revoke.add_argument("target", help="a user name (approved device) or a key fingerprint")
    police_import = keys_sub.add_parser(
        "police-import", help="sign a statement for the police unit's public key")
    police_import.add_argument("file", help="the public-key file `keys police-init` wrote")
    police_import.add_argument("--fingerprint", required=True,
                               help="the fingerprint the police unit read out to you")
    keys_sub.add_parser("police-init", help="police machine: make the police unit's key pair")
    police_grant = keys_sub.add_parser(
        "police-grant", help="police machine: grant the police key to an officer's device")
    police_grant.add_argument("name")
    police_grant.add_argument("--fingerprint", required=True,
                              help="the officer's device encryption fingerprint")
    police_grant.add_argument("--signing-fingerprint", required=True,
                              help="the officer's device signing fingerprint")

    stats = sub.add_parser("stats", help="anonymous statistics of closed conversations")
    stats_sub = stats.add_subparsers(dest="action", required=True)
    stats_export = stats_sub.add_parser("export", help="finished weeks, small cells hidden")
    stats_export.add_argument("--format", choices=["csv", "json"], default="csv")

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
                              police_unit=settings.police_unit,
                              staff_statement_days=settings.staff_statement_days,
                              police_statement_days=settings.police_statement_days),
                    actor=local_actor())


def _police_admin(settings: Settings, store: RedisStore | None, passphrase: bytes,
                  keys_dir: Path | None = None) -> PoliceKeyAdmin:
    return PoliceKeyAdmin(store, keys_dir or settings.resolved_keys_dir, passphrase,
                          SystemClock(), settings.police_unit, actor=local_actor())


async def _keys(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "police-init":  # the police machine needs no Redis for this
        public, fp = _police_admin(settings, None,
                                   _read_passphrase(args.passphrase_file)).init()
        print(f"police unit key made in {settings.resolved_keys_dir}")
        print(f"public key: {public}")
        print(f"fingerprint (read it out to the helpline's admin): {fp}")
        print(f"public-key file for `keys police-import`: "
              f"{settings.resolved_keys_dir / f'police-{settings.police_unit}.pub.json'}")
        return 0
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
            revocations = await store.get_revocations()
            if revocations:
                listed = json.loads(revocations)
                print(f"revocation list: serial {listed['serial']},"
                      f" {len(listed['revoked'])} key(s) revoked")
            return 0
        passphrase = _read_passphrase(args.passphrase_file)
        if args.action == "police-grant":
            unit = await _police_admin(settings, store, passphrase).grant(
                args.name, args.fingerprint, args.signing_fingerprint)
            print(f"granted the {unit} key to {args.name}")
            return 0
        admin = _key_admin(settings, store, passphrase)
        if args.action == "init":
            fp = await admin.init()
            print(f"keys made in {settings.resolved_keys_dir}")
            print(f"signing fingerprint (put it in the widget's embed snippet): {fp}")
        elif args.action == "rotate":
            period, granted, refused = await admin.rotate()
            print(f"new team key for period {period}; granted to: {', '.join(granted) or '-'}")
            for line in refused:
                print(f"NOT granted (check and approve again): {line}", file=sys.stderr)
        elif args.action == "approve":
            entry = await admin.approve(args.name, Role(args.role), args.fingerprint,
                                        args.signing_fingerprint)
            print(f"approved {entry.username} ({entry.role.value}): encryption"
                  f" {entry.encryption}, signing {entry.signing}")
        elif args.action == "revoke":
            revoked = await admin.revoke(args.target)
            print(f"revoked {len(revoked)} key(s): {', '.join(revoked)}")
            print("next: `helpline keys rotate`, so new conversations use a key the lost"
                  " device never had")
        elif args.action == "police-import":
            fp = await admin.police_import(Path(args.file), args.fingerprint)
            print(f"police key {fp} imported; statement valid"
                  f" {settings.police_statement_days} days")
        elif args.action == "prune":
            removed = await admin.prune()
            print(f"deleted the key files of: {', '.join(removed) or 'no period'}")
        elif args.action == "publish":
            print(f"published; signing fingerprint {await admin.publish()}")
        elif args.action == "grant":
            granted = await admin.grant(args.name, args.period)
            print(f"granted {', '.join(granted) or 'a staff statement only'} to {args.name}"
                  f" (statement valid {settings.staff_statement_days} days)")
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
    key_file = settings.resolved_audit_key_file
    if args.action == "public-key":
        if not key_file.exists():
            print(f"no audit key at {key_file} (the server makes it at first start)",
                  file=sys.stderr)
            return 1
        print(load_audit_key(key_file).public.raw.hex())
        return 0
    async with _store(settings) as store:
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
        passphrase = passphrase_path.read_bytes()
        admin = _key_admin(settings, store, passphrase)
        # The demo plays the police unit's machine too, in a folder of its own.
        police = _police_admin(settings, store, passphrase, data / "demo-police-keys")
        if not (settings.resolved_keys_dir / "signing.pem").exists():
            await admin.init()
        if not police.key_path.exists():
            _public, police_fp = police.init()
            await admin.police_import(police.public_path, police_fp)
        fp = await admin.publish()
        devices = data / "demo-devices"
        devices.mkdir(mode=0o700, exist_ok=True)
        for name, role, _ in DEMO_ACCOUNTS:
            enc_path, sig_path = devices / f"{name}.encryption.pem", devices / f"{name}.signing.pem"
            if not enc_path.exists():
                enc, sig = EncryptionKeyPair.generate(), SigningKeyPair.generate()
                write_unencrypted_key_file(enc_path, enc)
                write_unencrypted_key_file(sig_path, sig)
            enc = read_encryption_key_file(enc_path, None)
            sig = read_signing_key_file(sig_path, None)
            if await store.get_device(name) != {"encryption": enc.public.raw,
                                                "signing": sig.public.raw}:
                await store.set_device(name, enc.public.raw, sig.public.raw)
            # The demo approves its own device files; a real admin reads the
            # fingerprints off each person's screen.
            await admin.approve(name, role, enc.public.fingerprint, sig.public.fingerprint)
            await admin.grant(name)
            if role is Role.POLICE:
                await police.grant(name, enc.public.fingerprint, sig.public.fingerprint)
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
