"""End-to-end keys of a conversation and its police handover (public material only).

Mixed into RedisStore. This module owns

    {p}conv:{id}:e2e        hash   youth_key (Ed25519 public, raw), epoch (current
                                   number), statement:{epoch} (the young person's signed
                                   epoch statement, JSON); returncode_store adds code_wrap
    {p}conv:{id}:wraps      hash   "{epoch}:{recipient fingerprint}" -> HPKE wrap of the
                                   epoch key
    {p}conv:{id}:nonces     set    police consent nonces already used (replay guard)

and the handover fields of `conv:{id}` (handover, police_*), which change only
through the scripts here, each of which re-checks the conversation and handover
state it was told, so no wrap for the police lands without a live consent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Sequence
from typing import cast

from helpline.domain.conversation import State
from helpline.domain.ids import ConversationId
from helpline.errors import InvalidState
from helpline.storage import scripts
from helpline.storage.base import StoreBase, raise_for_status, states_csv


class BadEpoch(InvalidState):
    """The epoch is not the next one; `current` is the conversation's current epoch."""

    def __init__(self, current: int) -> None:
        super().__init__(f"The next key epoch is {current + 1}.")
        self.current = current


class HandoverConflict(InvalidState):
    """The police handover was not in a state the move allows; `current` says which."""

    def __init__(self, current: str) -> None:
        super().__init__(f"Not possible while the police handover is {current}.")
        self.current = current


class ConsentReplay(Exception):
    """A consent nonce was used before."""



class E2EStoreMixin(StoreBase):
    async def set_epoch(
        self, conversation_id: ConversationId, allowed: Iterable[State], epoch: int,
        youth_key: bytes | None, wraps: Sequence[tuple[str, bytes]], statement_json: str,
        police_wrap: bool = False,
    ) -> None:
        """Store the signed statement and wraps of the next epoch key in one step;
        `BadEpoch` unless epoch = current + 1.

        `police_wrap`: one wrap is for the police unit; refused (`HandoverConflict`)
        unless the handover is consented or joined at this very moment.
        """
        args: list[str | int | bytes] = [states_csv(allowed), epoch, youth_key or b"",
                                         "1" if police_wrap else "0", statement_json]
        for recipient, wrap in wraps:
            args += [recipient, wrap]
        res = await self._run(
            scripts.SET_EPOCH,
            [self.keys.conv(conversation_id), self.keys.e2e(conversation_id),
             self.keys.wraps(conversation_id)],
            args,
        )
        if res[0] == b"bad_epoch":
            raise BadEpoch(int(res[1]))
        if res[0] == b"no_consent":
            raise HandoverConflict(res[1].decode())
        raise_for_status(res)

    async def get_conversation_keys(
        self, conversation_id: str
    ) -> tuple[bytes | None, int, list[tuple[int, str, bytes]]]:
        """(youth signing key, current epoch, [(epoch, recipient fingerprint, wrap)])."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.e2e(conversation_id))
            pipe.hgetall(self.keys.wraps(conversation_id))
            e2e, wraps = await pipe.execute()
        out = []
        for field_, wrap in wraps.items():
            epoch_s, _, recipient = field_.decode().partition(":")
            out.append((int(epoch_s), recipient, bytes(wrap)))
        out.sort()
        return e2e.get(b"youth_key"), int(e2e.get(b"epoch", 0)), out

    async def get_epoch_statements(self, conversation_id: str) -> list[str]:
        """The young person's signed epoch statements (JSON), oldest epoch first."""
        e2e = await cast(Awaitable[dict[bytes, bytes]],
                         self.redis.hgetall(self.keys.e2e(conversation_id)))
        found = [(int(k[len(b"statement:"):]), v.decode()) for k, v in e2e.items()
                 if k.startswith(b"statement:")]
        return [text for _, text in sorted(found)]

    async def change_handover(
        self, conversation_id: ConversationId, *, states: Iterable[State] | None,
        handovers: Iterable[str], fields: dict[str, str | int],
        check: tuple[str, str] | None = None, nonce: str | None = None,
        participant: str | None = None,
    ) -> str:
        """Move the police handover atomically; returns the handover state it left.

        Raises NotFound, StateConflict (conversation state), HandoverConflict
        (handover state) or ConsentReplay (nonce seen before).
        """
        args: list[str | int] = [
            states_csv(states) if states is not None else "", ",".join(handovers),
            check[0] if check else "", check[1] if check else "", nonce or "",
            participant or ""]
        for k, v in fields.items():
            args += [k, v]
        res = await self._run(
            scripts.HANDOVER,
            [self.keys.conv(conversation_id), self.keys.nonces(conversation_id),
             self.keys.participants(conversation_id)], args)
        if res[0] == b"bad_handover":
            raise HandoverConflict(res[1].decode())
        if res[0] == b"replay":
            raise ConsentReplay()
        raise_for_status(res)
        return res[1].decode()

    async def share_history_wraps(
        self, conversation_id: ConversationId, wraps: Sequence[tuple[int, str, bytes]]
    ) -> None:
        args: list[str | bytes] = []
        for epoch, recipient, wrap in wraps:
            args += [f"{epoch}:{recipient}", wrap]
        res = await self._run(
            scripts.SHARE_HISTORY,
            [self.keys.conv(conversation_id), self.keys.wraps(conversation_id)], args)
        if res[0] == b"no_consent":
            raise HandoverConflict(res[1].decode())
        raise_for_status(res)
