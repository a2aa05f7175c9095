"""The app factory: `create_app(settings)` builds the whole server, with no globals.

It wires storage -> services -> transport, and opens and closes each resource in one
`cleanup_ctx` generator: the Redis pool, the socket.io server's manager, and the
control listener through which any process (or the CLI) can drop a staff member's
connections everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
from collections.abc import AsyncIterator

import socketio
from aiohttp import web
from redis.exceptions import RedisError

from helpline.appkeys import (
    ACCOUNTS,
    AUDIT,
    CONVERSATIONS,
    HANDOVER,
    HOURS,
    INTAKE,
    RETENTION,
    SETTINGS,
    SIO,
    STORE,
)
from helpline.config import ConfigError, Settings
from helpline.domain.intake import Script, load_scripts
from helpline.domain.retention import RetentionPolicy
from helpline.jobs import scheduler_ctx
from helpline.protocol import STAFF_NAMESPACE, YOUTH_NAMESPACE
from helpline.services.accounts import AccountPolicy, AccountService
from helpline.services.audit import Anchor, AuditLog, load_audit_key
from helpline.services.conversations import ConversationPolicy, ConversationService
from helpline.services.handover import HandoverService
from helpline.services.hours import HoursService, env_spec
from helpline.services.intake import Intake, IntakeService
from helpline.services.invites import InviteService
from helpline.services.keys import KeyService
from helpline.services.ports import SystemClock
from helpline.services.retention import RetentionService
from helpline.services.returncodes import ReturnCodes, load_secret
from helpline.services.team import TeamService
from helpline.storage.fanout import BoundedRedisManager, LocalManager
from helpline.storage.redis_store import RedisStore, connect_redis
from helpline.transport.console import add_console_routes
from helpline.transport.http import add_routes, errors_and_headers, no_websocket_compression
from helpline.transport.notifier import SocketNotifier
from helpline.transport.staff import StaffNamespace
from helpline.transport.widget import add_widget_routes
from helpline.transport.youth import YouthNamespace

log = logging.getLogger("helpline.app")


def check_settings(settings: Settings) -> dict[str, Script]:
    """What settings alone cannot check: the default language needs a script."""
    scripts = load_scripts()
    if settings.default_language not in scripts:
        raise ConfigError(f"HELPLINE_DEFAULT_LANGUAGE={settings.default_language!r} has no "
                          f"intake script; choose one of {', '.join(sorted(scripts))}")
    return scripts


def create_app(settings: Settings) -> web.Application:
    """Build the aiohttp application; `settings.redis_url` must be set."""
    if not settings.redis_url:
        raise ValueError("settings.redis_url must be resolved before create_app")
    app = web.Application(
        middlewares=[no_websocket_compression, errors_and_headers],
        client_max_size=settings.max_frame_bytes,
    )
    app[SETTINGS] = settings
    redis = connect_redis(settings.redis_url, settings.redis_max_connections)
    store = RedisStore(redis, settings.key_prefix)
    app[STORE] = store

    allowed = frozenset(settings.origins)
    manager: socketio.AsyncManager = LocalManager()  # storage/fanout.py: why not the default
    if settings.fanout == "redis":
        manager = BoundedRedisManager(settings.redis_url, store.keys.socketio_channel,
                                      settings.redis_max_connections,
                                      (YOUTH_NAMESPACE, STAFF_NAMESPACE))
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        # A callable, never '*' or []: engineio treats both as "allow every origin".
        cors_allowed_origins=lambda origin: origin in allowed,
        max_http_buffer_size=settings.max_frame_bytes,
        transports=list(settings.transports),
        logger=False,
        engineio_logger=False,
        # No cookie: nothing about the device may be left behind.
        cookie=None,
        # One connection's events run one after another, in the order sent: a
        # client's messages are stored in its own order (readers check it).
        async_handlers=False,
    )
    sio.attach(app)
    app[SIO] = sio

    clock = SystemClock()
    notifier = SocketNotifier(sio)
    accounts = AccountService(store, clock, AccountPolicy(
        session_ttl_seconds=settings.session_ttl_seconds,
        login_max_failures=settings.login_max_failures,
        login_lock_seconds=settings.login_lock_seconds,
        scrypt_log2_n=settings.scrypt_log2_n,
    ))
    # The checkpoint key and file live outside Redis (services/audit.py).
    audit = AuditLog(store, clock, Anchor(load_audit_key(settings.resolved_audit_key_file),
                                          settings.resolved_audit_checkpoint_file))
    retention_policy = RetentionPolicy(days=settings.retention_days,
                                       police_days=settings.police_retention_days,
                                       idle_hours=settings.idle_hours)
    conversations = ConversationService(store, notifier, clock, ConversationPolicy(
        max_conversations_per_counsellor=settings.max_conversations_per_counsellor,
        history_page_size=settings.history_page_size,
        retention=retention_policy,
        language_hold_ms=settings.language_hold_seconds * 1000,
        overview_push_interval_s=settings.overview_push_seconds,
    ), audit)
    invites = InviteService(conversations, audit, settings.invite_ttl_seconds)
    scripts = check_settings(settings)
    # The environment's hours are the default; the console may replace them (in Redis).
    hours = HoursService(store, clock, audit, env_spec(settings.opening_hours,
                                                       settings.holidays))
    app[HOURS] = hours
    intake = IntakeService(store, conversations, invites, Intake(
        scripts=scripts,
        hours=hours,
        default_language=settings.default_language,
    ))
    app[INTAKE] = intake
    codes = ReturnCodes(store, notifier, load_secret(
        settings.return_code_key_file or settings.data_dir / "return-code.key"))
    app[RETENTION] = RetentionService(store, notifier, clock, audit, retention_policy,
                                      on_live_changed=conversations.announce_left)
    app[AUDIT] = audit
    keys = KeyService(store, notifier, audit, clock)
    handover = HandoverService(store, notifier, clock, audit)
    app[HANDOVER] = handover
    app[ACCOUNTS] = accounts
    app[CONVERSATIONS] = conversations
    sio.register_namespace(YouthNamespace(YOUTH_NAMESPACE, conversations, keys, handover,
                                          intake, codes, settings.max_body_bytes))
    # Who of the team is online, across processes (services/team.py).
    team = TeamService(store, notifier, clock, settings.presence_ttl_seconds,
                       settings.max_conversations_per_counsellor)
    sio.register_namespace(StaffNamespace(STAFF_NAMESPACE, accounts, conversations, keys,
                                          handover, invites, settings.max_body_bytes,
                                          settings.max_conversations_per_counsellor,
                                          team=team))
    add_routes(app)
    add_widget_routes(app, settings)  # the young person's widget: /chat, /widget/, /exit
    add_console_routes(app)  # the counsellor console: /console, /console/<file>
    app.cleanup_ctx.append(_redis_ctx)
    app.cleanup_ctx.append(_control_listener_ctx)
    app.cleanup_ctx.append(scheduler_ctx)
    app.cleanup_ctx.append(lambda _app: team.running())  # presence heartbeat
    app.cleanup_ctx.append(_gc_ctx)
    app.on_shutdown.append(lambda _app: conversations.close())
    app.on_shutdown.append(lambda _app: team.close())  # before open sockets are awaited
    return app


# Collector tuning for a server that holds many long-lived objects (one session and
# its sockets per waiting young person). With the defaults (700, 10, 10) a young
# collection ran every 700 allocations and full collections walked every connection's
# objects: at 10,000 widgets full pauses reached 1.9 s (16 s of GC in 70 s). Message
# handling makes short-lived, acyclic objects that reference counting frees anyway,
# so collecting less often loses little memory and removes the pauses.
GC_THRESHOLDS = (50_000, 20, 100)


async def _gc_ctx(app: web.Application) -> AsyncIterator[None]:
    # Last in start-up: everything built so far (modules, app, services) lives as long
    # as the process; freezing moves it out of every future collection's walk.
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    yield
    gc.set_threshold(*previous)
    gc.unfreeze()


async def _redis_ctx(app: web.Application) -> AsyncIterator[None]:
    store = app[STORE]
    await store.ping()  # fail at start, not at the first conversation
    yield
    await store.close()


async def _control_listener_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_listen_control(app))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _listen_control(app: web.Application) -> None:
    """Act on control messages from other processes and the CLI; reconnect on errors."""
    store = app[STORE]
    notifier = SocketNotifier(app[SIO])
    while True:
        try:
            async with store.redis.pubsub() as pubsub:
                await pubsub.subscribe(store.keys.control_channel)
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    await _handle_control(notifier, message["data"])
        except asyncio.CancelledError:
            raise
        except (RedisError, OSError) as exc:
            log.warning("control channel lost (%s); retrying", type(exc).__name__)
            await asyncio.sleep(1)


async def _handle_control(notifier: SocketNotifier, raw: bytes) -> None:
    try:
        message = json.loads(raw)
    except ValueError:
        return
    if message.get("type") == "staff_disabled" and isinstance(message.get("username"), str):
        dropped = await notifier.disconnect_local_staff(message["username"])
        log.info("disabled account: dropped %d connection(s)", dropped)
    if message.get("type") == "session_revoked" and isinstance(message.get("session"), str):
        await notifier.disconnect_local_session(message["session"])
