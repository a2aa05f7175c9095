"""HTTP routes of the supervisor's console screens: the team's tools.

    GET/PUT/DELETE /api/directory/canned      canned answers, every language at once
    GET/PUT/DELETE /api/directory/referrals   the referral directory
    GET/PUT/DELETE /api/hours                 opening hours and holidays

Every route needs the Bearer token of a supervisor's or an admin's live session (401
without one, 403 for another role), like `/api/stats`. A `PUT` replaces the whole
document, a `DELETE` goes back to the start-up default (the shipped files, the
environment's hours). The routes are thin: they check the request and call
`LiveDirectory` (services/directory_edits.py) or `HoursService` (services/hours.py).
Bodies may be up to `DIRECTORY_BODY_MAX` (512 KiB; the referral directory can exceed
the 64 KiB of other requests). Errors are JSON `{"error": {"code", "message"}}`, turned
into responses by the `errors_and_headers` middleware of transport/http.py.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from helpline.appkeys import AUDIT, DIRECTORY, HOURS, LIVE_DIRECTORY, SIO, STORE
from helpline.domain.roles import Role
from helpline.domain.staff import Session
from helpline.errors import InvalidPayload
from helpline.protocol import MAX_SEQ, Int, Spec, Str, Texts, parse
from helpline.services.directory_edits import (
    CANNED,
    DIRECTORY_CHANGED_EVENT,
    REFERRALS,
    LiveDirectory,
)
from helpline.services.hours import HOLIDAYS_MAX, OPENING_HOURS_MAX
from helpline.transport.auth import bearer_session
from helpline.transport.notifier import SocketNotifier

EDITOR_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
# The largest body these routes take (bytes): a whole referral directory (up to 500
# entries) does not fit the HELPLINE_MAX_FRAME_BYTES (64 KiB) of other requests.
DIRECTORY_BODY_MAX = 512 * 1024

VERSION = Int(0, MAX_SEQ, required=False)
HOURS_SPEC: Spec = {
    "opening_hours": Str(max_len=OPENING_HOURS_MAX),
    # Each date's form is checked by the service (its message names the date).
    "holidays": Texts(Str(max_len=40), max_items=HOLIDAYS_MAX, min_items=0),
}


async def _editor(request: web.Request) -> Session:
    """The supervisor's or admin's live session of the request's bearer token."""
    return await bearer_session(request, EDITOR_ROLES, "Only a supervisor or an admin may do this.")


def _no_query(request: web.Request) -> None:
    if request.query:
        raise InvalidPayload(f"Unknown query parameter: {', '.join(sorted(request.query))}.")


async def _body(request: web.Request) -> Any:
    """The JSON body, up to DIRECTORY_BODY_MAX (413 `too_large` beyond)."""
    try:
        return await request.clone(client_max_size=DIRECTORY_BODY_MAX).json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidPayload("The body must be JSON.") from None


def _split_version(body: Any, field: str) -> tuple[dict[str, Any], int | None]:
    """The document without `version`, and the version it was based on (if given)."""
    if not isinstance(body, dict):
        raise InvalidPayload("The body must be an object.")
    unknown = sorted(str(k) for k in body if k not in (field, "version"))
    if unknown:
        raise InvalidPayload(f"Unknown field: {unknown[0][:40]}.")
    version = parse({"version": body.get("version")}, {"version": VERSION}).get("version")
    return {k: v for k, v in body.items() if k != "version"}, version


def _directory_routes(what: str, field: str) -> tuple[Any, Any, Any]:
    async def get(request: web.Request) -> web.Response:
        await _editor(request)
        _no_query(request)
        return web.json_response(await request.app[LIVE_DIRECTORY].document(what))

    async def put(request: web.Request) -> web.Response:
        session = await _editor(request)
        _no_query(request)
        document, version = _split_version(await _body(request), field)
        return web.json_response(await request.app[LIVE_DIRECTORY].replace(
            what, session.username, session.role.value, document, version))

    async def delete(request: web.Request) -> web.Response:
        session = await _editor(request)
        _no_query(request)
        return web.json_response(await request.app[LIVE_DIRECTORY].reset(
            what, session.username, session.role.value))

    return get, put, delete


async def get_hours(request: web.Request) -> web.Response:
    await _editor(request)
    _no_query(request)
    return web.json_response(await request.app[HOURS].document())


async def put_hours(request: web.Request) -> web.Response:
    session = await _editor(request)
    _no_query(request)
    args = parse(await _body(request), HOURS_SPEC)
    return web.json_response(await request.app[HOURS].change(
        session.username, session.role.value, args["opening_hours"], args["holidays"]))


async def delete_hours(request: web.Request) -> web.Response:
    session = await _editor(request)
    _no_query(request)
    return web.json_response(await request.app[HOURS].reset(session.username,
                                                            session.role.value))


def add_directory_routes(app: web.Application) -> None:
    """The routes above, and the live directory that `GET /api/canned` and
    `/api/referrals` answer from (after `add_routes` loaded the shipped files)."""
    notifier = SocketNotifier(app[SIO])

    async def announce(what: str, version: int) -> None:
        await notifier.to_every_staff(DIRECTORY_CHANGED_EVENT, {"what": what,
                                                                "version": version})

    app[LIVE_DIRECTORY] = LiveDirectory(app[STORE], app[DIRECTORY], app[AUDIT], announce)
    for what, field in ((CANNED, "languages"), (REFERRALS, "referrals")):
        get, put, delete = _directory_routes(what, field)
        path = f"/api/directory/{what}"
        app.router.add_get(path, get)
        app.router.add_put(path, put)
        app.router.add_delete(path, delete)
    app.router.add_get("/api/hours", get_hours)
    app.router.add_put("/api/hours", put_hours)
    app.router.add_delete("/api/hours", delete_hours)
