"""HTTP routes: health, staff login and logout, the admin's audit log and statistics,
the console's reference data (canned answers, referrals), and the headers every answer
carries.

Errors are JSON `{"error": {"code", "message"}}` with the status of the error class.
Nothing about the caller (address, user agent) is logged or stored: the access log
is off (see app.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from helpline.appkeys import ACCOUNTS, AUDIT, DIRECTORY, LIVE_DIRECTORY, RETENTION, STORE
from helpline.domain.audit import AuditAction
from helpline.domain.roles import Role
from helpline.domain.staff import Session
from helpline.errors import HelplineError, InvalidPayload, Unauthorized, Unavailable
from helpline.protocol import USERNAME, Str, parse
from helpline.services.directory import (
    DEFAULT_LANGUAGE,
    KINDS,
    QUERY_MAX,
    REGIONS,
    load_directory,
)
from helpline.transport.accounts_http import add_account_routes
from helpline.transport.admin_http import add_admin_routes
from helpline.transport.auth import bearer_session
from helpline.transport.directory_http import add_directory_routes

log = logging.getLogger("helpline.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Who may read what: canned answers are the chat's own texts (the roles that chat, and
# admins, who look after them); referrals also help an officer who joined a chat.
CANNED_ROLES = frozenset({Role.COUNSELLOR, Role.SUPERVISOR, Role.ADMIN})
REFERRAL_ROLES = frozenset(Role)
# The statistics are anonymous and small cells are hidden: the supervisors who run the
# floor see them too (their dashboard in the console).
STATS_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})

LOGIN_SPEC = {"username": Str(USERNAME, 32), "password": Str(max_len=256)}

SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def error_response(exc: HelplineError) -> web.Response:
    return web.json_response(exc.to_wire(), status=exc.http_status)


@web.middleware
async def errors_and_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except HelplineError as exc:
        response = error_response(exc)
    except RedisError as exc:
        log.error("%s %s: storage unavailable (%s)", request.method, request.path,
                  type(exc).__name__)
        response = error_response(Unavailable())
    except web.HTTPRequestEntityTooLarge:
        response = web.json_response(
            {"error": {"code": "too_large", "message": "The request is too large."}}, status=413)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        # aiohttp's own 404 and 405 answers, in the same JSON shape as ours.
        code = "not_found" if exc.status == 404 else "invalid_payload"
        response = web.json_response({"error": {"code": code, "message": exc.reason}},
                                     status=exc.status)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@web.middleware
async def no_websocket_compression(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Refuse permessage-deflate: it costs about 4x the memory per connection.

    python-engineio builds its WebSocketResponse with aiohttp's default (compression
    on), so the offer is removed from the request before the upgrade sees it.
    """
    if "Sec-WebSocket-Extensions" in request.headers:
        headers = request.headers.copy()
        del headers["Sec-WebSocket-Extensions"]
        request = request.clone(headers=headers)
    return await handler(request)


async def read_json(request: web.Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidPayload("The body must be JSON.") from None


async def healthz(request: web.Request) -> web.Response:
    try:
        redis_ok = await request.app[STORE].ping()
    except (RedisError, OSError):
        redis_ok = False
    return web.json_response(
        {"status": "ok" if redis_ok else "degraded", "redis": redis_ok},
        status=200 if redis_ok else 503,
    )


async def login(request: web.Request) -> web.Response:
    args = parse(await read_json(request), LOGIN_SPEC)
    result = await request.app[ACCOUNTS].login(args["username"], args["password"])
    return web.json_response({
        "token": result.token,
        "expires_at": result.session.expires_at,
        "username": result.session.username,
        "role": result.session.role.value,
    })


async def logout(request: web.Request) -> web.Response:
    auth = request.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized()
    await request.app[ACCOUNTS].logout(token.strip())
    return web.Response(status=204)


async def _staff(request: web.Request, roles: frozenset[Role]) -> Session:
    """The live staff session of the request's bearer token, if its role is in `roles`."""
    return await bearer_session(request, roles)


async def _admin(request: web.Request, read: AuditAction,
                 roles: frozenset[Role] = frozenset({Role.ADMIN})) -> None:
    """Only an admin's live session (or one of `roles`) may read the audit log and the
    statistics; the read is itself audited (once per reader and window, services/audit.py)."""
    session = await bearer_session(
        request, roles, "Only an admin may read this." if roles == {Role.ADMIN}
        else "Only a supervisor or an admin may read this.")
    await request.app[AUDIT].record_read(session.username, session.role.value, read, None)


def _int_query(request: web.Request, name: str, default: int, maximum: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) > maximum:
        raise InvalidPayload(f"{name} must be a whole number up to {maximum}.")
    return int(raw)


def _query(request: web.Request, allowed: tuple[str, ...]) -> dict[str, str]:
    """The query parameters, each at most once and none outside `allowed`."""
    unknown = sorted(set(request.query) - set(allowed))
    if unknown:
        raise InvalidPayload(f"Unknown query parameter: {', '.join(unknown)}.")
    out = {}
    for name in allowed:
        values = request.query.getall(name, [])
        if len(values) > 1:
            raise InvalidPayload(f"{name} may be given once.")
        if values:
            out[name] = values[0]
    return out


def _choice(args: dict[str, str], name: str, choices: tuple[str, ...]) -> str | None:
    value = args.get(name)
    if value is not None and value not in choices:
        raise InvalidPayload(f"{name} must be one of: {', '.join(choices)}.")
    return value


async def canned_answers(request: web.Request) -> web.Response:
    await _staff(request, CANNED_ROLES)
    directory = await request.app[LIVE_DIRECTORY].current()  # the console's edit, if any
    args = _query(request, ("language",))
    language = _choice(args, "language", directory.languages) or DEFAULT_LANGUAGE
    return web.json_response({"language": language, "languages": list(directory.languages),
                              "answers": directory.canned(language)})


async def referrals(request: web.Request) -> web.Response:
    await _staff(request, REFERRAL_ROLES)
    args = _query(request, ("region", "kind", "q"))
    region, kind = _choice(args, "region", REGIONS), _choice(args, "kind", KINDS)
    query = args.get("q", "").strip()
    if len(query) > QUERY_MAX:
        raise InvalidPayload(f"q may be at most {QUERY_MAX} characters.")
    directory = await request.app[LIVE_DIRECTORY].current()  # the console's edit, if any
    found = directory.referrals(region, kind, query or None)
    return web.json_response({"referrals": found, "regions": list(REGIONS),
                              "kinds": list(KINDS)})


async def audit_entries(request: web.Request) -> web.Response:
    await _admin(request, AuditAction.READ_AUDIT)
    start = _int_query(request, "start", 0, 2**53 - 1)
    limit = _int_query(request, "limit", 100, 1000) or 1
    audit = request.app[AUDIT]
    entries = await audit.entries(start, limit)
    # The signed checkpoints that fall in this page (a count c covers entries 0..c-1).
    checkpoints = await audit.checkpoints(start + 1, start + len(entries)) if entries else []
    return web.json_response({"entries": [json.loads(e.to_json()) for e in entries],
                              "total": await audit.count(),
                              "checkpoints": checkpoints,
                              "audit_key": audit.anchor.key.public.fingerprint
                              if audit.anchor else None})


async def audit_verify(request: web.Request) -> web.Response:
    await _admin(request, AuditAction.READ_AUDIT)
    check = await request.app[AUDIT].verify()
    return web.json_response({"ok": check.ok, "entries": check.entries,
                              "first_broken": check.first_broken, "reason": check.reason,
                              "code": check.code, "checkpoint": check.checkpoint,
                              "checkpoints": check.checkpoints})


async def stats_export(request: web.Request) -> web.Response:
    await _admin(request, AuditAction.READ_STATS, STATS_ROLES)
    fmt = request.query.get("format", "json")
    if fmt not in ("csv", "json"):
        raise InvalidPayload("format must be csv or json.")
    out = await request.app[RETENTION].export(fmt)
    if isinstance(out, str):
        return web.Response(text=out, content_type="text/csv")
    return web.json_response({"rows": out})


async def index(request: web.Request) -> web.Response:
    return web.json_response({
        "service": "helpline",
        "socket_io_path": "/socket.io/",
        "namespaces": ["/youth", "/staff"],
        "docs": "docs/protocol.md",
    })


def add_routes(app: web.Application) -> None:
    """The routes above; reads the console's data files (a broken one stops the start)."""
    app[DIRECTORY] = load_directory()
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/audit", audit_entries)
    app.router.add_get("/api/audit/verify", audit_verify)
    app.router.add_get("/api/stats", stats_export)
    app.router.add_get("/api/canned", canned_answers)
    app.router.add_get("/api/referrals", referrals)
    add_account_routes(app)  # the admin's accounts, devices, key periods
    add_directory_routes(app)  # the supervisor's tools: canned, referrals, opening hours
    add_admin_routes(app)  # the admin's retention screen: /api/retention
