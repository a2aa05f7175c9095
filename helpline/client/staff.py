"""The staff side of the protocol (counsellor, supervisor, police, admin) in Python."""

from __future__ import annotations

from typing import Any

import aiohttp

from helpline.client.connection import BaseClient, ClientError
from helpline.protocol import STAFF_NAMESPACE


async def login(url: str, username: str, password: str) -> dict[str, Any]:
    """POST /api/login; returns {token, expires_at, username, role} or raises."""
    async with aiohttp.ClientSession() as http, http.post(
        f"{url}/api/login", json={"username": username, "password": password}
    ) as resp:
        data: dict[str, Any] = await resp.json()
    if "error" in data:
        raise ClientError(data["error"]["code"], data["error"]["message"])
    return data


class StaffClient(BaseClient):
    namespace = STAFF_NAMESPACE

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.token: str | None = None
        self.queue_entries: list[dict[str, Any]] = []
        self.sio.on("queue", self._on_queue, namespace=self.namespace)

    @classmethod
    async def signed_in(cls, url: str, username: str, password: str,
                        **kwargs: Any) -> StaffClient:
        """Log in over HTTP and connect the socket with the token."""
        client = cls(url, **kwargs)
        client.token = (await login(url, username, password))["token"]
        await client.connect()
        return client

    async def connect(self, token: str | None = None) -> None:
        self.token = token or self.token
        await self._connect(auth={"token": self.token})

    async def whoami(self) -> dict[str, Any]:
        return await self.call("whoami")

    async def queue(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = (await self.call("queue"))["entries"]
        self.queue_entries = entries
        return entries

    async def held(self) -> list[dict[str, Any]]:
        return list((await self.call("held"))["conversations"])

    async def overview(self) -> list[dict[str, Any]]:
        return list((await self.call("overview"))["conversations"])

    async def accept(self, conversation_id: str) -> dict[str, Any]:
        result = await self.call("accept", {"conversation_id": conversation_id})
        await self._fill_gap(conversation_id)  # what the young person wrote while waiting
        return dict(result["conversation"])

    async def send(self, conversation_id: str, body: bytes,
                   client_msg_id: str | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"conversation_id": conversation_id, "body": body}
        if client_msg_id:
            payload["client_msg_id"] = client_msg_id
        result = await self.call("send", payload)
        self._take_envelope({"conversation_id": conversation_id, "seq": result["seq"],
                             "sender_role": "counsellor", "sent_at": result["sent_at"],
                             "body": body})
        return result

    async def typing(self, conversation_id: str, typing: bool) -> None:
        await self.call("typing", {"conversation_id": conversation_id, "typing": typing})

    async def history(self, conversation_id: str, after_seq: int = 0,
                      limit: int | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"conversation_id": conversation_id, "after_seq": after_seq}
        if limit:
            payload["limit"] = limit
        return await self.call("history", payload)

    async def end(self, conversation_id: str) -> str:
        return str((await self.call("end", {"conversation_id": conversation_id}))["state"])

    async def wrapup(self, conversation_id: str, form: str, age_band: str,
                     referral: str) -> None:
        await self.call("wrapup", {"conversation_id": conversation_id, "form": form,
                                   "age_band": age_band, "referral": referral})

    async def reassign(self, conversation_id: str, to: str) -> dict[str, Any]:
        result = await self.call("reassign", {"conversation_id": conversation_id, "to": to})
        return dict(result["conversation"])

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        return self.transcript(conversation_id).messages

    async def _on_queue(self, data: dict[str, Any]) -> None:
        self.queue_entries = list(data.get("entries", []))
        await self._record("queue", data)

    async def _resync(self) -> None:
        try:
            for conv in await self.held():
                await self._fill_gap(conv["conversation_id"])
            await self.queue()
        except ClientError:
            pass

    async def _fill_gap(self, conversation_id: str) -> None:
        transcript = self.transcript(conversation_id)
        while True:
            page = await self.history(conversation_id, transcript.last_seq)
            for envelope in page["messages"]:
                transcript.add(envelope)
            if not page["more"]:
                break
        await self._notify()
