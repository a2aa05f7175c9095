"""Event fan-out between server processes through Redis pub/sub.

python-socketio's `AsyncRedisManager` builds its client with `Redis.from_url`, whose
connection pool raises "Too many connections" when a burst exhausts it; the manager
then rebuilds its client on every failure, and delivery collapses (measured: about
440 msg/s with a 24 s p99 at 1,000 msg/s offered). Here the pool is a
`BlockingConnectionPool`: a burst waits briefly for a free connection instead.

When Redis goes away, python-socketio's listener backs off 1, 2, 4, 8 s and more, so
cross-process delivery stayed dead for seconds after Redis was back, and what was
published meanwhile was lost without anyone knowing. This listener retries every
quarter second, and once it is subscribed again it tells every client connected to
this process to re-sync (`resync`, docs/protocol.md): they fetch what they missed.

Per-person rooms get a channel of their own. python-socketio publishes every emit on
one channel, so every process decoded every message (its own too) and the cost per
message grew with the number of processes (measured: 2.0x the in-process CPU with two
processes). An emit to a room named by `DIRECT_ROOM_PREFIXES` (one young person's
connections, one staff member's) is instead delivered here at once and published on
`<channel>:<namespace>:<room>`, to which only the processes with a member of that room
subscribe; a process drops its own echo by the sender id in front, without decoding
it. Those publishes go out in batches (one pipeline per turn of the event loop, in
order) by one writer task, so a burst of messages costs one round trip, not one each.
Everything else (queue, overview and police rooms, a sid, disconnects) keeps
python-socketio's shared channel.

A process subscribes to a room's channel when the room's first local member enters,
and waits until Redis confirms it: a young person who resumes then reads the history,
so every message stored after that read is published where this process hears it.
It unsubscribes when the last local member has left.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
import socketio
from engineio.packet import MESSAGE as ENGINEIO_MESSAGE
from engineio.packet import Packet as EngineIOPacket
from socketio.packet import EVENT, Packet

from helpline.protocol import RESYNC_EVENT

log = logging.getLogger("helpline.fanout")
RETRY_SECONDS = 0.25
# How long entering a room waits for Redis to confirm the room's subscription. Only
# an outage takes this long; the re-sync after it covers what was missed meanwhile.
SUBSCRIBE_WAIT_SECONDS = 2.0
# The per-person rooms of transport/notifier.py (youth_room, staff_room): most
# events go to them, each to the few processes that hold that person's connections.
DIRECT_ROOM_PREFIXES = ("youth:", "staff:")
MAX_BATCH = 500  # publishes per pipeline; a burst beyond waits for the next


def encode_event(server: socketio.AsyncServer, event: str, data: Any, namespace: str) -> str:
    """The socket.io EVENT packet (text: no binary data) every recipient is sent."""
    return str(server.packet_class(EVENT, namespace=namespace, data=[event, data]).encode())


async def send_encoded(manager: socketio.AsyncManager, namespace: str, room: str,
                       skip: list[Any], encoded: str) -> None:
    """Queue an encoded packet on each of this process's sockets in `room`.

    python-socketio's local emit starts a task per recipient and waits for them all;
    a send only puts the packet on the socket's queue, so it is done in place (for a
    young person's room: one or two sockets). A failing socket costs only itself.
    """
    message = EngineIOPacket(ENGINEIO_MESSAGE, encoded)
    for sid, eio_sid in manager.get_participants(namespace, room):
        if sid not in skip:
            try:
                await manager.server._send_eio_packet(eio_sid, message)
            except Exception as exc:
                log.warning("send to one socket failed (%s)", type(exc).__name__)


class LocalManager(socketio.AsyncManager):  # type: ignore[misc]
    """In-process fan-out (HELPLINE_FANOUT=local): python-socketio's manager, with the
    per-person rooms' events encoded once and queued in place (`send_encoded`)."""

    async def emit(self, event: str, data: Any, namespace: str | None = None,
                   room: Any = None, skip_sid: Any = None, callback: Any = None,
                   to: Any = None, **kwargs: Any) -> None:
        room = to or room
        if callback is not None or not _direct(room) or Packet.data_is_binary([data]):
            await super().emit(event, data, namespace=namespace, room=room,
                               skip_sid=skip_sid, callback=callback, **kwargs)
            return
        namespace = namespace or "/"
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        # A young person's message goes to their own room too (another tab), skipping
        # the sending socket: usually nobody is left, so do not build the packet.
        if not any(sid not in skip for sid, _ in self.get_participants(namespace, room)):
            return
        await send_encoded(self, namespace, room,
                           skip, encode_event(self.server, event, data, namespace))


def room_channel(channel: str, namespace: str, room: str) -> str:
    """The pub/sub channel of one room: `<socketio channel>:<namespace>:<room>`."""
    return f"{channel}:{namespace}:{room}"


class BoundedRedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    def __init__(self, url: str, channel: str, max_connections: int,
                 namespaces: tuple[str, ...] = ()) -> None:
        super().__init__(url, channel=channel)
        self.max_connections = max_connections
        self.resync_namespaces = namespaces
        self._origin = self.host_id.encode() + b"|"
        self._subscribed: set[str] = set()  # room channels asked of the current pubsub
        self._confirmed: dict[str, asyncio.Future[None]] = {}
        self._sub_lock = asyncio.Lock()
        self._outbox: list[tuple[str, bytes]] = []
        self._outbox_ready = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        # The client exists from the start (no I/O yet), so an emit or a room entered
        # before the listener's first connect has somewhere to go.
        self._redis_connect()

    def _redis_connect(self) -> None:
        # Overrides python-socketio's private hook (5.x) to choose the pool class.
        pool = aioredis.BlockingConnectionPool.from_url(
            self.redis_url, max_connections=self.max_connections, timeout=10)
        self.redis = aioredis.Redis(connection_pool=pool)
        self.pubsub = self.redis.pubsub()
        self.connected = True

    # -- direct rooms: emit ---------------------------------------------------------

    async def emit(self, event: str, data: Any, namespace: str | None = None,
                   room: Any = None, skip_sid: Any = None, callback: Any = None,
                   to: Any = None, **kwargs: Any) -> None:
        room = to or room
        if (kwargs.get("ignore_queue") or callback is not None or not _direct(room)
                or Packet.data_is_binary([data])):
            await super().emit(event, data, namespace=namespace, room=room,
                               skip_sid=skip_sid, callback=callback, **kwargs)
            return
        namespace = namespace or "/"
        # Encoded once, as the socket.io packet every recipient gets, here and in the
        # other processes: they forward it without decoding the event.
        encoded = encode_event(self.server, event, data, namespace)
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        await self._send_local(namespace, room, skip, encoded)
        header = json.dumps([namespace, room, skip])
        self._enqueue(room_channel(self.channel, namespace, room),
                      self._origin + header.encode() + b"\n" + encoded.encode())

    async def _send_local(self, namespace: str, room: str, skip: list[Any],
                          encoded: str) -> None:
        await send_encoded(self, namespace, room, skip, encoded)

    async def _publish(self, data: Any) -> None:
        # Overrides python-socketio's publish on the shared channel: through the same
        # queue as the direct emits, so events reach other processes in the order
        # they were emitted here.
        self._enqueue(self.channel, json.dumps(data).encode())

    def _enqueue(self, channel: str, payload: bytes) -> None:
        self._outbox.append((channel, payload))
        self._outbox_ready.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_outbox())

    async def _write_outbox(self) -> None:
        """Publish queued direct emits in order, many per round trip."""
        while True:
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            while self._outbox:
                batch, self._outbox = self._outbox[:MAX_BATCH], self._outbox[MAX_BATCH:]
                try:
                    async with self.redis.pipeline(transaction=False) as pipe:
                        for channel, payload in batch:
                            pipe.publish(channel, payload)
                        await pipe.execute()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # Like python-socketio's own publish: lost; the listener's re-sync
                    # after the outage tells every client to fetch what it missed.
                    log.error("fan-out publish failed (%s): %d event(s) lost",
                              type(exc).__name__, len(batch))

    # -- direct rooms: membership ---------------------------------------------------

    async def enter_room(self, sid: str, namespace: str, room: Any,
                         eio_sid: str | None = None) -> None:
        await super().enter_room(sid, namespace, room, eio_sid=eio_sid)
        if _direct(room) and self._local_member(sid, namespace, room):
            await self._subscribe_room(room_channel(self.channel, namespace or "/", room))

    async def _handle_enter_room(self, message: dict[str, Any]) -> None:
        # Another process asked this one to put one of its sids into a room.
        await super()._handle_enter_room(message)
        room, namespace = message.get("room"), message.get("namespace") or "/"
        if isinstance(room, str) and _direct(room) \
                and self._local_member(message.get("sid"), namespace, room):
            await self._subscribe_room(room_channel(self.channel, namespace, room))

    def _local_member(self, sid: Any, namespace: str, room: str) -> bool:
        # Entered here (the sid may still be connecting: on_connect enters rooms).
        return sid in self.rooms.get(namespace or "/", {}).get(room, {})

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        # Also reached from basic_disconnect for every room of a leaving sid.
        super().basic_leave_room(sid, namespace, room)
        if _direct(room) and room not in self.rooms.get(namespace, {}):
            asyncio.get_running_loop().create_task(self._unsubscribe_if_empty(
                namespace, room))

    async def _subscribe_room(self, channel: str) -> None:
        async with self._sub_lock:
            if channel not in self._subscribed:
                self._subscribed.add(channel)
                future = self._confirmed[channel] = asyncio.get_running_loop().create_future()
                try:
                    await self.pubsub.subscribe(channel)
                except Exception as exc:
                    # No use waiting: the listener subscribes every room with a member
                    # once Redis is back, then tells every client to re-sync.
                    log.error("fan-out subscribe failed (%s)", type(exc).__name__)
                    future.set_result(None)
                    self._confirmed.pop(channel, None)
            confirmed = self._confirmed.get(channel)
        if confirmed is not None and not confirmed.done():
            try:
                await asyncio.wait_for(asyncio.shield(confirmed), SUBSCRIBE_WAIT_SECONDS)
            except TimeoutError:
                log.error("fan-out subscription not confirmed within %.1f s",
                          SUBSCRIBE_WAIT_SECONDS)

    async def _unsubscribe_if_empty(self, namespace: str, room: str) -> None:
        channel = room_channel(self.channel, namespace, room)
        async with self._sub_lock:
            # Checked again under the lock: someone may have entered meanwhile.
            if room in self.rooms.get(namespace, {}) or channel not in self._subscribed:
                return
            self._subscribed.discard(channel)
            self._confirmed.pop(channel, None)
            try:
                await self.pubsub.unsubscribe(channel)
            except Exception as exc:
                log.error("fan-out unsubscribe failed (%s)", type(exc).__name__)

    def _wanted_channels(self) -> list[str]:
        """The room channels this process needs: every direct room with a local member."""
        return [room_channel(self.channel, ns, room)
                for ns, rooms in self.rooms.items() for room in rooms if _direct(room)]

    # -- listening ------------------------------------------------------------------

    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:
        # Overrides python-socketio's private generator (5.x): a short, flat retry, and
        # a re-sync of this process's clients after every outage.
        lost = False
        while True:
            try:
                async with self._sub_lock:
                    self._redis_connect()
                    wanted = self._wanted_channels()
                    self._subscribed = set(wanted)
                    # Whoever waits for a room keeps waiting, for this subscription.
                    loop = asyncio.get_running_loop()
                    self._confirmed = {ch: self._confirmed.get(ch) or loop.create_future()
                                       for ch in wanted}
                    await self.pubsub.subscribe(self.channel, *wanted)
                if lost:
                    lost = False
                    log.warning("fan-out back: telling clients to re-sync")
                    await self._resync_local_clients()
                async for message in self.pubsub.listen():
                    yield message
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not lost:
                    log.error("fan-out lost Redis (%s); retrying every %.2f s",
                              type(exc).__name__, RETRY_SECONDS)
                lost = True
                await asyncio.sleep(RETRY_SECONDS)

    async def _listen(self) -> AsyncIterator[bytes]:
        # Overrides python-socketio's private generator (5.x): shared-channel messages
        # go on to python-socketio; room channels and confirmations are handled here.
        shared = self.channel.encode()
        async for message in self._redis_listen_with_retries():
            kind, channel = message.get("type"), message.get("channel")
            if kind == "subscribe":
                confirmed = self._confirmed.pop(channel.decode(), None)
                if confirmed is not None and not confirmed.done():
                    confirmed.set_result(None)
            elif kind != "message":
                continue
            elif channel == shared:
                yield message["data"]
            else:
                await self._deliver_direct(message["data"])

    async def _deliver_direct(self, raw: bytes) -> None:
        """A direct emit from another process: `<host id>|<[namespace, room, skip]>\n`
        then the encoded socket.io packet, forwarded as it is."""
        if raw.startswith(self._origin):
            return  # delivered locally when it was emitted
        try:
            header, _, encoded = raw.partition(b"|")[2].partition(b"\n")
            namespace, room, skip = json.loads(header)
            await self._send_local(namespace, room, skip, encoded.decode())
        except Exception as exc:
            log.error("fan-out delivery failed (%s)", type(exc).__name__)

    async def _resync_local_clients(self) -> None:
        """Every client of this process, in every namespace: fetch what you missed."""
        for namespace in self.resync_namespaces:
            # The local manager's emit: this process's clients only, not published.
            await socketio.AsyncManager.emit(self, RESYNC_EVENT, {}, namespace=namespace)


def _direct(room: Any) -> bool:
    return isinstance(room, str) and room.startswith(DIRECT_ROOM_PREFIXES)
