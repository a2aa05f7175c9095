"""HTTP routes of the admin's console screens: staff accounts (list, add, change,
reset a password, disable), devices waiting for approval, and the team key periods.

Every route needs the Bearer token of an admin's live session (401 without one, 403
for another role), like `/api/stats`. The routes are thin: they check the request and
call `StaffAdmin` (services/staffadmin.py). Approving, granting and revoking devices
are not here on purpose: they stay `helpline keys ...` on the admin machine, which
holds the organisation key (docs/security.md); the answers carry the exact lines.
Errors are JSON `{"error": {"code", "message"}}`, turned into responses by the
`errors_and_headers` middleware of transport/http.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from helpline.appkeys import ACCOUNTS, SETTINGS, STORE
from helpline.domain.ids import is_username
from helpline.domain.roles import Role
from helpline.domain.staff import Session
from helpline.errors import InvalidPayload
from helpline.protocol import USERNAME, Spec, Str, Texts, parse
from helpline.services.accounts import MAX_LANGUAGES
from helpline.services.ports import SystemClock
from helpline.services.staffadmin import StaffAdmin
from helpline.transport.auth import bearer_session

STAFF_ADMIN = web.AppKey("staff_admin", StaffAdmin)
ADMIN_ONLY = frozenset({Role.ADMIN})

LANGUAGES = Texts(Str(re.compile(r"[a-z]{2}"), 8), max_items=MAX_LANGUAGES, min_items=0,
                  required=False)
ADD_SPEC: Spec = {"username": Str(USERNAME, 32), "role": Str(choices=Role, max_len=20),
            "languages": LANGUAGES}
CHANGE_SPEC: Spec = {"role": Str(choices=Role, max_len=20, required=False), "languages": LANGUAGES}


async def _admin(request: web.Request) -> Session:
    """The admin's live session of the request's bearer token."""
    return await bearer_session(request, ADMIN_ONLY, "Only an admin may do this.")


async def _body(request: web.Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidPayload("The body must be JSON.") from None


def _name(request: web.Request) -> str:
    name = request.match_info["name"]
    if not is_username(name):
        raise InvalidPayload("That is not a username.")
    return name


def _no_query(request: web.Request) -> None:
    if request.query:
        raise InvalidPayload(f"Unknown query parameter: {', '.join(sorted(request.query))}.")


async def list_accounts(request: web.Request) -> web.Response:
    await _admin(request)
    _no_query(request)
    return web.json_response({"accounts": await request.app[STAFF_ADMIN].list_accounts()})


async def add_account(request: web.Request) -> web.Response:
    session = await _admin(request)
    args = parse(await _body(request), ADD_SPEC)
    account, password = await request.app[STAFF_ADMIN].add(
        session, args["username"], args["role"], tuple(args.get("languages", [])))
    return web.json_response({"account": account, "password": password}, status=201)


async def change_account(request: web.Request) -> web.Response:
    session = await _admin(request)
    name = _name(request)
    args = parse(await _body(request), CHANGE_SPEC)
    if not args:
        raise InvalidPayload("Give role, languages or both.")
    languages = args.get("languages")
    account = await request.app[STAFF_ADMIN].change(
        session, name, args.get("role"), tuple(languages) if languages is not None else None)
    return web.json_response({"account": account})


async def disable_account(request: web.Request) -> web.Response:
    session = await _admin(request)
    name = _name(request)
    account = await request.app[STAFF_ADMIN].disable(session, name)
    return web.json_response({"account": account})


async def reset_password(request: web.Request) -> web.Response:
    session = await _admin(request)
    name = _name(request)
    account, password = await request.app[STAFF_ADMIN].reset_password(session, name)
    return web.json_response({"account": account, "password": password})


async def pending_devices(request: web.Request) -> web.Response:
    await _admin(request)
    _no_query(request)
    return web.json_response({"devices": await request.app[STAFF_ADMIN].pending_devices()})


async def key_periods(request: web.Request) -> web.Response:
    await _admin(request)
    _no_query(request)
    return web.json_response(await request.app[STAFF_ADMIN].key_periods())


def add_account_routes(app: web.Application) -> None:
    """The admin's account, device and key-period routes (called by `add_routes`)."""
    app[STAFF_ADMIN] = StaffAdmin(app[STORE], app[ACCOUNTS], SystemClock(),
                                  app[SETTINGS].key_warn_days)
    app.router.add_get("/api/accounts", list_accounts)
    app.router.add_post("/api/accounts", add_account)
    app.router.add_patch("/api/accounts/{name}", change_account)
    app.router.add_post("/api/accounts/{name}/disable", disable_account)
    app.router.add_post("/api/accounts/{name}/password", reset_password)
    app.router.add_get("/api/devices/pending", pending_devices)
    app.router.add_get("/api/keys/periods", key_periods)
