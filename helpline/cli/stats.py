"""`helpline stats export`: the anonymous statistics of closed conversations."""

from __future__ import annotations

import argparse
import json

from helpline.cli.common import open_store
from helpline.config import Settings
from helpline.domain.retention import RetentionPolicy
from helpline.services.audit import AuditLog
from helpline.services.ports import SystemClock
from helpline.services.retention import RetentionService


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    stats = sub.add_parser("stats", help="anonymous statistics of closed conversations")
    stats_sub = stats.add_subparsers(dest="action", required=True)
    stats_export = stats_sub.add_parser("export", help="finished weeks, small cells hidden")
    stats_export.add_argument("--format", choices=["csv", "json"], default="csv")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    async with open_store(settings) as store:
        service = RetentionService(store, None, SystemClock(), AuditLog(store, SystemClock()),
                                   _retention_policy(settings))
        out = await service.export(args.format)
    print(out if isinstance(out, str) else json.dumps(out, indent=1), end="")
    return 0


def _retention_policy(settings: Settings) -> RetentionPolicy:
    return RetentionPolicy(days=settings.retention_days,
                           police_days=settings.police_retention_days,
                           idle_hours=settings.idle_hours)
