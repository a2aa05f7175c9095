"""The one Bearer-token check of every `/api/...` route: the live staff session of the
request's `Authorization: Bearer <token>` header, if its role may use the route (401
`unauthorized` without a live session, 403 `forbidden` for another role)."""

from __future__ import annotations

from aiohttp import web

from helpline.appkeys import ACCOUNTS
from helpline.domain.roles import Role
from helpline.domain.staff import Session
from helpline.errors import Forbidden, Unauthorized


async def bearer_session(request: web.Request, roles: frozenset[Role],
                         refusal: str | None = None) -> Session:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized()
    session = await request.app[ACCOUNTS].authenticate(token.strip())
    if session.role not in roles:
        raise Forbidden(refusal) if refusal else Forbidden()
    return session
