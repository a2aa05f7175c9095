"""Typed keys for what the aiohttp application holds (no module-level globals)."""

from __future__ import annotations

import socketio
from aiohttp import web

from helpline.config import Settings
from helpline.services.accounts import AccountService
from helpline.services.audit import AuditLog
from helpline.services.conversations import ConversationService
from helpline.services.directory import Directory
from helpline.services.directory_edits import LiveDirectory
from helpline.services.handover import HandoverService
from helpline.services.hours import HoursService
from helpline.services.intake import IntakeService
from helpline.services.retention import RetentionService
from helpline.storage.redis_store import RedisStore

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", RedisStore)
ACCOUNTS = web.AppKey("accounts", AccountService)
CONVERSATIONS = web.AppKey("conversations", ConversationService)
SIO = web.AppKey("sio", socketio.AsyncServer)
AUDIT = web.AppKey("audit", AuditLog)
RETENTION = web.AppKey("retention", RetentionService)
INTAKE = web.AppKey("intake", IntakeService)
HANDOVER = web.AppKey("handover", HandoverService)
# The console's reference data (canned answers, referrals), read and checked at start.
DIRECTORY = web.AppKey("directory", Directory)
# What the console edits (stored in Redis; the shipped files and the environment are the
# default): the directory every process serves, and the opening hours in force.
LIVE_DIRECTORY = web.AppKey("live_directory", LiveDirectory)
HOURS = web.AppKey("hours", HoursService)
