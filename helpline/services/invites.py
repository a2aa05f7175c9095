"""Outreach invites: a counsellor makes a one-time code (or a link carrying it) that
opens a conversation straight with them. It expires, and works once.

Only the code's SHA-256 is stored, so a Redis dump cannot be used to open chats.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from helpline.domain.access import StaffActor
from helpline.domain.audit import AuditAction
from helpline.domain.ids import Username, new_conversation_id, new_secret, secret_hash
from helpline.domain.roles import CHAT_ROLES
from helpline.errors import Forbidden
from helpline.services.audit import AuditLog
from helpline.services.conversations import ConversationService, Opened

# Used and expired invites are remembered this much longer, to say which they were.
REMEMBER_SECONDS = 30 * 24 * 3600


def invite_hash(code: str) -> str:
    return hashlib.sha256(f"helpline invite {code}".encode()).hexdigest()


class InviteService:
    def __init__(self, conversations: ConversationService, audit: AuditLog,
                 ttl_seconds: int) -> None:
        self.conversations = conversations
        self.store = conversations.store
        self.clock = conversations.clock
        self.audit = audit
        self.ttl_seconds = ttl_seconds

    async def create(self, actor: StaffActor) -> dict[str, Any]:
        if actor.role not in CHAT_ROLES:
            raise Forbidden()
        code = secrets.token_urlsafe(12)
        expires_at = self.clock.now_ms() + self.ttl_seconds * 1000
        await self.store.create_invite(invite_hash(code), actor.username, expires_at,
                                       self.ttl_seconds + REMEMBER_SECONDS)
        await self.audit.record(actor.username, actor.role.value, AuditAction.INVITE_CREATED,
                                None, {"expires_at": expires_at})
        return {"code": code, "expires_at": expires_at}

    async def open(self, code: str, language: str | None, campaign: str | None) -> Opened:
        """Open a conversation held at once by the inviting counsellor."""
        cid = new_conversation_id()
        secret = new_secret()
        counsellor = await self.store.open_invited(
            invite_hash(code), cid, secret_hash(secret), self.clock.now_ms(), language,
            campaign)
        conv = await self.conversations.load(cid)
        await self.conversations.notifier.to_staff(Username(counsellor), "assignment", {
            "conversation": conv.summary(self.clock.now_ms()), "held": True, "by": "invite"})
        await self.conversations.announce_live_changed(cid)
        return Opened(conv, f"{cid}.{secret}", 0, 0)
