"""HTTP routes of the admin's and supervisor's console screens: the retention settings.

Added by `add_admin_routes(app)` (called at the end of http.py's `add_routes`); the
same Bearer-token check and error middleware as every `/api/...` route.
"""

from __future__ import annotations

from aiohttp import web

from helpline.appkeys import RETENTION, SETTINGS, STORE
from helpline.domain.roles import Role
from helpline.services.retention_status import JobTiming, RetentionStatus
from helpline.transport.auth import bearer_session

# The settings and a count: nothing about anyone. Not audited as a read (unlike the
# audit log and the statistics, it shows no record of the helpline's work).
RETENTION_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})


async def retention_settings(request: web.Request) -> web.Response:
    await bearer_session(request, RETENTION_ROLES)
    settings, retention = request.app[SETTINGS], request.app[RETENTION]
    status = RetentionStatus(request.app[STORE], retention.clock, retention.policy,
                             JobTiming(settings.job_interval_seconds, settings.jobs_enabled))
    return web.json_response(await status.read())


def add_admin_routes(app: web.Application) -> None:
    app.router.add_get("/api/retention", retention_settings)
