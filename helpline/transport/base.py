"""What every namespace shares: event dispatch with one error boundary.

Handlers are `on_<event>(sid, payload)` coroutines returning the ack result. The
boundary turns a `HelplineError` into `{"error": {...}}`, a Redis outage into
`unavailable` (on connect too: a refused connection with `{"code": "unavailable"}`),
anything unexpected into `internal_error` (logged by event name and exception type
only: payloads never reach a log), an unknown event into `unknown_event`, and wraps
a success as `{"ok": result}` with its byte strings as base64url text.
"""

from __future__ import annotations

import logging
from typing import Any

import socketio
from redis.exceptions import RedisError

from helpline.errors import HelplineError, InvalidPayload, Unavailable, UnknownEvent
from helpline.protocol import to_wire

log = logging.getLogger("helpline.transport")

LIFECYCLE = frozenset({"connect", "disconnect"})  # never dispatched as client events


READY = "_ready"


class HelplineNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event == "connect":
            return await self._connect(*args)
        if event == "disconnect":
            # A client may send an event named "disconnect"; the real one comes only
            # after python-socketio has marked the connection as gone.
            if self.server.manager.is_connected(args[0], self.namespace):
                return UnknownEvent("There is no event 'disconnect' here.").to_wire()
            try:
                return await super().trigger_event(event, *args)
            except RedisError as exc:
                # The client is gone already; only the presence note is lost.
                log.error("disconnect: storage unavailable (%s)", type(exc).__name__)
                return None
        sid, rest = args[0], args[1:]
        handler = getattr(self, f"on_{event}", None) if isinstance(event, str) else None
        if handler is None or event in LIFECYCLE:
            return UnknownEvent(f"There is no event {str(event)[:40]!r} here.").to_wire()
        if len(rest) > 1:
            return InvalidPayload("Send exactly one payload object.").to_wire()
        try:
            result = await handler(sid, rest[0] if rest else None)
        except HelplineError as exc:
            return exc.to_wire()
        except RedisError as exc:
            log.error("event %s: storage unavailable (%s)", event, type(exc).__name__)
            return Unavailable().to_wire()
        except Exception as exc:
            log.error("event %s failed: %s", event, type(exc).__name__,
                      exc_info=log.isEnabledFor(logging.DEBUG))
            return HelplineError().to_wire()
        return {"ok": to_wire(result) if result is not None else {}}

    async def _connect(self, sid: str, *args: Any) -> Any:
        # A client may also send an event named "connect": only the first, real one
        # (before the session is marked ready) reaches on_connect.
        if (await self.get_session(sid)).get(READY):
            return UnknownEvent("There is no event 'connect' here.").to_wire()
        try:
            result = await super().trigger_event("connect", sid, *args)
        except socketio.exceptions.ConnectionRefusedError:
            raise
        except RedisError as exc:
            log.error("connect: storage unavailable (%s)", type(exc).__name__)
            raise socketio.exceptions.ConnectionRefusedError(
                Unavailable.default_message, {"code": Unavailable.code}) from None
        except Exception as exc:
            log.error("connect failed: %s", type(exc).__name__,
                      exc_info=log.isEnabledFor(logging.DEBUG))
            raise socketio.exceptions.ConnectionRefusedError(
                HelplineError.default_message, {"code": HelplineError.code}) from None
        async with self.session(sid) as session:
            session[READY] = True
        return result
