"""Message storage: the envelopes of a conversation, gap-free and stored once.

Mixed into RedisStore. This module owns

    {p}conv:{id}:msgs       list   message envelopes ("role|at|body"); index + 1 is the seq
    {p}conv:{id}:dedup      hash   "role:sender:client_msg_id" -> seq (TTL, refreshed by
                                   each append with an id), so a resend is stored once

The append script also does the whole SEND access check (mirroring
helpline/domain/access.py) and sets the conversation's `last_seq` and
`last_activity`, so the check and the append are one step and one round trip.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import cast

from helpline.domain.ids import ConversationId
from helpline.domain.messages import Appended, Envelope
from helpline.storage import scripts
from helpline.storage.base import StoreBase

DEDUP_TTL_SECONDS = 24 * 3600


class SendRefused(Exception):
    """The append script refused: `status` is "not_found", "ended" or "not_active";
    the service turns it into the error `check_access` would give."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class MessageStoreMixin(StoreBase):
    async def append_message(
        self, conversation_id: ConversationId, sender_kind: str, sender_name: str,
        sender_role: str, now_ms: int, body: bytes, client_msg_id: str | None,
    ) -> Appended:
        """Check that the sender may send now and append an envelope with the next
        gap-free seq, in one atomic step (one round trip).

        `sender_kind` is "youth" (`sender_name` ""), "staff" (must hold it) or "police"
        (must be the joined officer, consent not lapsed); the script mirrors the SEND
        rule of `check_access`. Raises `SendRefused` with the script's status on a
        refusal. A resend with a `client_msg_id` already stored returns the original
        envelope (`duplicate=True`), so a client that lost an ack can resend without
        doubling.
        """
        res = await self._run_batched(
            scripts.APPEND_MESSAGE,
            [self.keys.conv(conversation_id), self.keys.msgs(conversation_id),
             self.keys.dedup(conversation_id)],
            [sender_kind, sender_name, sender_role, now_ms, body, client_msg_id or "",
             DEDUP_TTL_SECONDS, now_ms // 1000],
        )
        if res[0] not in (b"ok", b"duplicate"):
            raise SendRefused(res[0].decode())
        if res[0] == b"duplicate":
            stored = await self.read_messages(conversation_id, int(res[1]) - 1, 1)
            return Appended(stored[0], duplicate=True)
        envelope = Envelope(conversation_id, int(res[1]), sender_role, now_ms, body)
        counsellor, handover, officer = (x.decode() for x in res[2:5])
        recipients = [counsellor] if counsellor else []
        if handover == "joined" and officer:
            recipients.append(officer)
        return Appended(envelope, duplicate=False, recipients=tuple(recipients),
                        youth_connections=int(res[5]))

    async def count_youth_connection(self, conversation_id: ConversationId, delta: int
                                     ) -> int:
        """A young person's connection was bound to the conversation (+1) or closed
        (-1); the count lets a message skip the sender's own room when it has no
        other connection (`conv:{id}` field `youth_conns`)."""
        return int(await self._script(scripts.COUNT_YOUTH_CONNECTION)(
            keys=[self.keys.conv(conversation_id)], args=[delta]))

    async def read_messages(
        self, conversation_id: ConversationId, after_seq: int, limit: int
    ) -> list[Envelope]:
        """Envelopes with seq > after_seq, in order, at most `limit`."""
        raw = await cast(
            Awaitable[list[bytes]],
            self.redis.lrange(self.keys.msgs(conversation_id), after_seq, after_seq + limit - 1),
        )
        return self._envelopes(conversation_id, after_seq, raw)

    async def read_page(
        self, conversation_id: ConversationId, after_seq: int, limit: int
    ) -> tuple[list[Envelope], int]:
        """(envelopes with seq > after_seq, at most `limit`; the last seq) in one atomic
        read, so a page never holds a message past the last seq it reports."""
        key = self.keys.msgs(conversation_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrange(key, after_seq, after_seq + limit - 1)
            pipe.llen(key)
            raw, total = await pipe.execute()
        return self._envelopes(conversation_id, after_seq, raw), int(total)

    @staticmethod
    def _envelopes(conversation_id: ConversationId, after_seq: int,
                   raw: list[bytes]) -> list[Envelope]:
        out = []
        for offset, packed in enumerate(raw):
            role, at, body = packed.split(b"|", 2)
            out.append(Envelope(conversation_id, after_seq + offset + 1, role.decode(),
                                int(at), body))
        return out
