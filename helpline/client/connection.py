"""The shared machinery of the Python clients: calls with acks, events, transcripts.

A `Transcript` holds one conversation's envelopes in seq order, each exactly once:
live events and history pages may overlap or arrive out of order (another process
may deliver seq 7 before seq 6), so it drops what it has and asks for the gap.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import socketio

from helpline.protocol import RESYNC_EVENT, from_wire, to_wire


class ClientError(Exception):
    """The server refused: `code` is the stable error code from docs/protocol.md."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class Transcript:
    conversation_id: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    # Where this copy starts: a client resuming with last_seq N already has 1..N.
    start_after: int = 0
    _pending: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def last_seq(self) -> int:
        return int(self.messages[-1]["seq"]) if self.messages else self.start_after

    def add(self, envelope: dict[str, Any]) -> bool:
        """Take an envelope; True when a gap remains that history must fill."""
        seq = int(envelope["seq"])
        if seq > self.last_seq:
            self._pending.setdefault(seq, envelope)
        while self.last_seq + 1 in self._pending:
            self.messages.append(self._pending.pop(self.last_seq + 1))
        for stale in [s for s in self._pending if s <= self.last_seq]:
            del self._pending[stale]
        return bool(self._pending)


EventPredicate = Callable[[dict[str, Any]], bool]


class BaseClient:
    namespace = "/"

    def __init__(self, url: str, *, origin: str | None = None, reconnection: bool = True,
                 transports: tuple[str, ...] = ("websocket",)) -> None:
        self.url = url
        self.headers = {"Origin": origin} if origin else {}
        self.transports = list(transports)
        self.sio = socketio.AsyncClient(
            reconnection=reconnection, reconnection_delay=0.2, reconnection_delay_max=1.0,
            randomization_factor=0.2, logger=False, engineio_logger=False,
        )
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.transcripts: dict[str, Transcript] = {}
        self._changed = asyncio.Condition()
        self._connects = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.sio.on("*", self._on_any, namespace=self.namespace)
        self.sio.on("connect", self._on_connect, namespace=self.namespace)
        self.sio.on("message", self._on_message, namespace=self.namespace)
        self.sio.on(RESYNC_EVENT, self._on_resync, namespace=self.namespace)

    # -- connection -------------------------------------------------------------------

    async def _connect(self, auth: dict[str, Any] | None = None) -> None:
        try:
            await self.sio.connect(self.url, namespaces=[self.namespace],
                                   headers=self.headers, transports=self.transports,
                                   auth=auth, wait_timeout=10)
        except Exception:
            await self._close_http()
            raise

    async def disconnect(self) -> None:
        try:
            await self.sio.disconnect()
        finally:
            for task in list(self._tasks):
                task.cancel()
            await self._close_http()

    async def _close_http(self) -> None:
        # engineio keeps an aiohttp session that a refused connect leaves open.
        http = getattr(self.sio.eio, "http", None)
        if http is not None and not http.closed:
            await http.close()

    @property
    def connected(self) -> bool:
        return bool(self.sio.connected)

    async def _on_connect(self) -> None:
        self._connects += 1
        if self._connects > 1:
            self._spawn(self._resync())

    async def _resync(self) -> None:
        """After a reconnect: catch up on what was missed. Subclasses fill this in."""

    async def _catch_up(self) -> None:
        """Still connected, but events may have been lost: fetch what was missed."""
        await self._resync()

    async def _on_resync(self, data: Any = None) -> None:
        self._spawn(self._catch_up())
        await self._record(RESYNC_EVENT, {})

    # -- calls --------------------------------------------------------------------------

    async def call(self, event: str, payload: dict[str, Any] | None = None,
                   timeout: float = 10) -> dict[str, Any]:
        """Emit with an ack; return its `ok` part or raise `ClientError`."""
        ack = await self.emit_raw(event, payload if payload is not None else {},
                                  timeout=timeout)
        if isinstance(ack, dict) and "error" in ack:
            raise ClientError(ack["error"]["code"], ack["error"]["message"])
        if not isinstance(ack, dict) or "ok" not in ack:
            raise ClientError("bad_ack", f"unexpected ack {ack!r}")
        return dict(from_wire(ack["ok"]))

    async def emit_raw(self, event: str, *args: Any, timeout: float = 10,
                       encode: bool = True) -> Any:
        """Emit anything (for tests of bad input) and return the raw ack, not decoded.
        Byte strings become base64url text as the protocol wants, unless `encode` is
        False (to send raw binary on purpose)."""
        if encode:
            args = tuple(to_wire(a) for a in args)
        data: Any = args[0] if len(args) == 1 else tuple(args)
        return await self.sio.call(event, data, namespace=self.namespace, timeout=timeout)

    # -- events ---------------------------------------------------------------------------

    async def _on_any(self, event: str, data: Any = None) -> None:
        await self._record(event, from_wire(data))

    async def _on_message(self, data: dict[str, Any]) -> None:
        data = from_wire(data)
        self._take_envelope(data)
        await self._record("message", data)

    async def _record(self, event: str, data: Any) -> None:
        async with self._changed:
            self.received.append((event, data if isinstance(data, dict) else {"value": data}))
            self._changed.notify_all()

    def _take_envelope(self, envelope: dict[str, Any]) -> None:
        cid = envelope["conversation_id"]
        transcript = self.transcripts.setdefault(cid, Transcript(cid))
        if transcript.add(envelope):
            self._spawn(self._fill_gap(cid))

    async def _fill_gap(self, conversation_id: str) -> None:
        """Fetch missing envelopes (subclasses know how to ask for history)."""

    def events(self, event: str) -> list[dict[str, Any]]:
        return [data for name, data in self.received if name == event]

    async def wait_for(self, event: str, predicate: EventPredicate | None = None,
                       timeout: float = 5.0) -> dict[str, Any]:
        """The first received `event` (past or future) for which `predicate` holds."""
        async def scan() -> dict[str, Any]:
            async with self._changed:
                while True:
                    for name, data in self.received:
                        if name == event and (predicate is None or predicate(data)):
                            return data
                    await self._changed.wait()
        return await asyncio.wait_for(scan(), timeout)

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until `condition()` holds, re-checked whenever anything arrives."""
        async def check() -> None:
            async with self._changed:
                while not condition():
                    # Also poll: connection state changes without any event arriving.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), 0.05)
        await asyncio.wait_for(check(), timeout)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        """Run `coro` in the background; it is cancelled on disconnect."""
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def transcript(self, conversation_id: str) -> Transcript:
        return self.transcripts.setdefault(conversation_id, Transcript(conversation_id))
