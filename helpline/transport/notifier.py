"""The socket.io side of `Notifier`: rooms, and nothing else.

Rooms (all joined by the process that holds the connection, so they work the same
with in-process and Redis fan-out):
    /youth  youth:{conversation id}   the young person's connection(s)
    /staff  staff:{username}          every connection of one staff member
    /staff  queue                     counsellors and supervisors (live queue)
    /staff  overview                  supervisors and admins (live overview)
    /staff  police                    police officers (handover requests changed)
    /staff  session:{token hash}      the connections opened with one session (logout)
"""

from __future__ import annotations

from typing import Any

import socketio

from helpline.domain.ids import ConversationId, Username
from helpline.protocol import STAFF_NAMESPACE, YOUTH_NAMESPACE, to_wire

QUEUE_ROOM = "queue"
OVERVIEW_ROOM = "overview"
POLICE_ROOM = "police"


def youth_room(conversation_id: str) -> str:
    return f"youth:{conversation_id}"


def staff_room(username: str) -> str:
    return f"staff:{username}"


def session_room(token_hash: str) -> str:
    return f"session:{token_hash}"


class SocketNotifier:
    def __init__(self, sio: socketio.AsyncServer) -> None:
        self.sio = sio

    async def to_youth(
        self, conversation_id: ConversationId, event: str, data: dict[str, Any],
        skip: str | None = None,
    ) -> None:
        await self.sio.emit(event, to_wire(data), room=youth_room(conversation_id),
                            namespace=YOUTH_NAMESPACE, skip_sid=skip)

    async def to_staff(
        self, username: Username, event: str, data: dict[str, Any], skip: str | None = None
    ) -> None:
        await self.sio.emit(event, to_wire(data), room=staff_room(username),
                            namespace=STAFF_NAMESPACE, skip_sid=skip)

    async def to_queue_watchers(self, event: str, data: dict[str, Any]) -> None:
        await self.sio.emit(event, to_wire(data), room=QUEUE_ROOM, namespace=STAFF_NAMESPACE)

    async def to_overview_watchers(self, event: str, data: dict[str, Any]) -> None:
        await self.sio.emit(event, to_wire(data), room=OVERVIEW_ROOM,
                            namespace=STAFF_NAMESPACE)

    async def to_police(self, event: str, data: dict[str, Any]) -> None:
        await self.sio.emit(event, to_wire(data), room=POLICE_ROOM, namespace=STAFF_NAMESPACE)

    async def to_every_staff(self, event: str, data: dict[str, Any]) -> None:
        """Every connected staff console, in every process (no room: the shared
        fan-out channel with HELPLINE_FANOUT=redis)."""
        await self.sio.emit(event, to_wire(data), namespace=STAFF_NAMESPACE)

    async def disconnect_local_staff(self, username: str) -> int:
        """Drop this process's connections of one staff member; returns how many."""
        return await self._disconnect_room(staff_room(username))

    async def disconnect_local_session(self, token_hash: str) -> int:
        """Drop this process's connections opened with one (now revoked) session."""
        return await self._disconnect_room(session_room(token_hash))

    async def _disconnect_room(self, room: str) -> int:
        sids = [sid for sid, _ in self.sio.manager.get_participants(STAFF_NAMESPACE, room)]
        for sid in sids:
            await self.sio.disconnect(sid, namespace=STAFF_NAMESPACE)
        return len(sids)
