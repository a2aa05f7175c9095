"""The audit log service: append an entry for a staff action, read and verify the chain,
and anchor it outside Redis with signed checkpoints.

Entries are written after the action succeeded (a read: before its data is handed
out); they name who did what to which conversation, never what was said, and never an
address or user agent.

The chain is plain SHA-256, not keyed: `helpline keys ...` on the admin machine and
`users ...` wherever they run append too, and they hold no server secret. What a Redis
writer could otherwise do, rewrite the whole chain consistently, is caught by the
checkpoints: the server signs (count, head) with an Ed25519 key kept in a file outside
Redis and appends each checkpoint to a file outside Redis (docs/security.md, "The audit
log").
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpline.crypto.errors import CryptoError
from helpline.crypto.keys import SigningKeyPair, SigningPublicKey
from helpline.domain.audit import (
    AuditAction,
    AuditEntry,
    ChainCheck,
    Checkpoint,
    CheckpointInvalid,
    check_checkpoints,
    parse_checkpoint,
    sign_checkpoint,
    verify_chain,
)
from helpline.errors import HelplineError
from helpline.services.ports import Clock
from helpline.storage.redis_store import RedisStore

PAGE = 1000
MAX_TRIES = 50
# A staff read of one conversation (or of the statistics or the log) is logged once
# per reader, kind and conversation per window: history is paged and re-read after
# every reconnect, and an entry per page would flood the log without saying more.
READ_WINDOW_SECONDS = 3600
# The last line of a checkpoint file is read from its end; a line is about 250 bytes.
TAIL_BYTES = 4096


class AuditKeyInvalid(HelplineError):
    code = "audit_key_invalid"
    default_message = "The audit signing key file is not a 32-byte Ed25519 key."


class AuditTampered(HelplineError):
    """The chain in Redis does not extend the last checkpoint: refuse to sign it."""

    code = "audit_tampered"
    default_message = "The audit log does not extend its last signed checkpoint."


def load_audit_key(path: Path) -> SigningKeyPair:
    """The audit signing key (a raw 32-byte Ed25519 seed): made on first start with
    mode 0600, kept outside Redis, like the return-code look-up key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: read theirs
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
    raw = path.read_bytes()
    try:
        return SigningKeyPair.from_private_bytes(raw)
    except (CryptoError, ValueError):
        raise AuditKeyInvalid(f"{path} is not a 32-byte Ed25519 key.") from None


def read_checkpoint_lines(path: Path) -> list[str] | None:
    """Every line of the checkpoint file, or None if there is no file."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        return ["not ascii"]  # reported as an invalid checkpoint, not a crash
    return text.splitlines()


def _last_line(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - TAIL_BYTES))
            lines = f.read().splitlines()
    except FileNotFoundError:
        return None
    return lines[-1].decode("ascii", "replace") if lines else None


def _append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # One write with O_APPEND: a concurrent `helpline audit checkpoint` on the same
    # host cannot interleave inside a line; fsync so a crash keeps what was signed.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Anchor:
    """Where checkpoints are signed and kept: both outside Redis."""

    key: SigningKeyPair
    file: Path


class AuditLog:
    def __init__(self, store: RedisStore, clock: Clock, anchor: Anchor | None = None,
                 read_window_seconds: int = READ_WINDOW_SECONDS) -> None:
        self.store = store
        self.clock = clock
        self.anchor = anchor
        self.read_window_seconds = read_window_seconds

    async def record(self, actor: str, role: str, action: AuditAction,
                     conversation_id: str | None, details: dict[str, Any] | None = None,
                     ) -> AuditEntry:
        """Append one entry to the chain (retrying if another process appended first)."""
        return (await self.record_many(actor, role, action, [conversation_id], details))[0]

    async def record_many(self, actor: str, role: str, action: AuditAction,
                          conversation_ids: list[str | None],
                          details: dict[str, Any] | None = None) -> list[AuditEntry]:
        """One entry per conversation, chained and appended in one atomic step (a purge
        pass of 500: one round trip instead of 1,000)."""
        for _ in range(MAX_TRIES):
            count, head = await self.store.get_audit_head()
            entries: list[AuditEntry] = []
            at = self.clock.now_ms()
            for conversation_id in conversation_ids:
                prev = entries[-1].hash if entries else head
                entries.append(AuditEntry(
                    i=count + len(entries), at=at, actor=actor, role=role,
                    action=action.value, conversation_id=conversation_id,
                    details=details or {}, prev=prev).sealed())
            if not entries:
                return []
            if await self.store.append_audit(
                    (count, head), (count + len(entries), entries[-1].hash),
                    *(e.to_json() for e in entries)):
                return entries
        raise RuntimeError("audit log: too much contention")

    async def record_read(self, actor: str, role: str, action: AuditAction,
                          conversation_id: str | None) -> None:
        """Log a staff read, once per reader, kind and conversation per window.

        Called before the data is handed out: if the entry cannot be written, the read
        fails too, so no read goes unlogged.
        """
        if not await self.store.claim_audit_read(action.value, actor, conversation_id,
                                                 self.read_window_seconds):
            return
        try:
            await self.record(actor, role, action, conversation_id)
        except BaseException:
            await self.store.release_audit_read(action.value, actor, conversation_id)
            raise

    async def count(self) -> int:
        """How many entries the log holds."""
        return (await self.store.get_audit_head())[0]

    async def entries(self, start: int = 0, limit: int = PAGE) -> list[AuditEntry]:
        return [AuditEntry.from_json(t) for t in await self.store.read_audit(start, limit)]

    async def _entries_between(self, start: int, stop: int) -> list[AuditEntry] | int:
        """Entries start..stop-1, or the position of the first one that does not parse."""
        out: list[AuditEntry] = []
        while start + len(out) < stop:
            page = await self.store.read_audit(start + len(out),
                                               min(PAGE, stop - start - len(out)))
            for text in page:
                try:
                    out.append(AuditEntry.from_json(text))
                except (ValueError, TypeError):
                    return start + len(out)
            if not page:
                break
        return out

    async def verify(self, checkpoint_lines: list[str] | None = None,
                     public_key: SigningPublicKey | None = None) -> ChainCheck:
        """Check the whole chain, that it reaches the recorded head, and that every
        checkpoint (default: the anchor's file, with the anchor's key) matches it."""
        count, head = await self.store.get_audit_head()
        # Read past the head too: entries beyond it are a sign of tampering as well.
        loaded = await self._entries_between(0, 2**62)
        if isinstance(loaded, int):
            return ChainCheck(False, loaded, loaded, f"entry {loaded} is not an audit entry",
                              code="chain_broken")
        entries = loaded
        check = verify_chain(entries)
        if not check.ok:
            return check
        last = entries[-1].hash if entries else "0" * 64
        if count != len(entries) or head != last:
            return ChainCheck(False, len(entries), min(count, len(entries)),
                              f"the log ends at entry {len(entries)}, but {count} were written",
                              code="chain_broken")
        if checkpoint_lines is None and self.anchor is not None:
            checkpoint_lines = read_checkpoint_lines(self.anchor.file)
        if public_key is None and self.anchor is not None:
            public_key = self.anchor.key.public
        if checkpoint_lines is None or public_key is None:
            return check
        return check_checkpoints(entries, checkpoint_lines, public_key)

    async def checkpoint(self) -> Checkpoint | None:
        """Sign (count, head) if the head moved since the last checkpoint in the file.

        Before signing, the entries added since the last checkpoint are checked to
        extend it, so a chain rewritten in Redis is never signed (AuditTampered).
        """
        if self.anchor is None:
            raise HelplineError("No audit key on this machine to sign checkpoints with.")
        key, path = self.anchor.key, self.anchor.file
        count, head = await self.store.get_audit_head()
        if count == 0:
            return None
        text = await asyncio.to_thread(_last_line, path)
        last: Checkpoint | None = None
        if text is not None:
            try:
                last = parse_checkpoint(text, key.public)
            except CheckpointInvalid as exc:
                raise AuditTampered(f"The last checkpoint in {path} is invalid: {exc}") from None
        if last is not None and (last.count, last.head) == (count, head):
            return None
        if last is not None and count < last.count:
            raise AuditTampered(f"The log has {count} entries, but the last checkpoint "
                                f"covers {last.count}.")
        start = last.count - 1 if last is not None else 0
        loaded = await self._entries_between(start, count)
        if isinstance(loaded, int) or len(loaded) != count - start:
            raise AuditTampered("The log is shorter than its head says.")
        prev = loaded[0].prev if last is not None else "0" * 64
        check = verify_chain(loaded, start=start, prev=prev)
        if not check.ok or loaded[-1].hash != head or \
                (last is not None and loaded[0].hash != last.head):
            raise AuditTampered(check.reason or "The log does not extend the last checkpoint.")
        point = sign_checkpoint(key, count, head, self.clock.now_ms() // 1000)
        await asyncio.to_thread(_append_line, path, point.to_json())
        await self.store.add_audit_checkpoint(point.to_json())
        return point

    async def checkpoints(self, first_count: int, last_count: int) -> list[dict[str, Any]]:
        """Copies of the checkpoints covering entries first_count..last_count (from
        Redis; shown to admins, not trusted by `helpline audit verify`)."""
        out = []
        for text in await self.store.list_audit_checkpoints():
            data = json.loads(text)
            if isinstance(data, dict) and isinstance(data.get("count"), int) \
                    and first_count <= data["count"] <= last_count:
                out.append(data)
        return out
