"""The audit log service: append an entry for a staff action, read and verify the chain.

Entries are written after the action succeeded; they name who did what to which
conversation, never what was said.
"""

from __future__ import annotations

from typing import Any

from helpline.domain.audit import AuditAction, AuditEntry, ChainCheck, verify_chain
from helpline.services.ports import Clock
from helpline.storage.redis_store import RedisStore

PAGE = 1000
MAX_TRIES = 50


class AuditLog:
    def __init__(self, store: RedisStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def record(self, actor: str, role: str, action: AuditAction,
                     conversation_id: str | None, details: dict[str, Any] | None = None,
                     ) -> AuditEntry:
        """Append one entry to the chain (retrying if another process appended first)."""
        for _ in range(MAX_TRIES):
            count, head = await self.store.get_audit_head()
            entry = AuditEntry(i=count, at=self.clock.now_ms(), actor=actor, role=role,
                               action=action.value, conversation_id=conversation_id,
                               details=details or {}, prev=head).sealed()
            if await self.store.append_audit((count, head), (count + 1, entry.hash),
                                             entry.to_json()):
                return entry
        raise RuntimeError("audit log: too much contention")

    async def entries(self, start: int = 0, limit: int = PAGE) -> list[AuditEntry]:
        return [AuditEntry.from_json(t) for t in await self.store.read_audit(start, limit)]

    async def verify(self) -> ChainCheck:
        """Check the whole chain, and that it still reaches the recorded head."""
        entries: list[AuditEntry] = []
        while True:
            page = await self.entries(len(entries), PAGE)
            entries += page
            if len(page) < PAGE:
                break
        check = verify_chain(entries)
        if not check.ok:
            return check
        count, head = await self.store.get_audit_head()
        last = entries[-1].hash if entries else "0" * 64
        if count != len(entries) or head != last:
            return ChainCheck(False, len(entries), min(count, len(entries)),
                              f"the log ends at entry {len(entries)}, but {count} were written")
        return check
