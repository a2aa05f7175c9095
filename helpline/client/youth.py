"""The young person's side of the protocol, as a Python client (tests, tools, bench)."""

from __future__ import annotations

import time
from typing import Any

from helpline.client.connection import BaseClient, ClientError
from helpline.client.e2e import ConversationCrypto
from helpline.crypto.keyring import Decrypted, YouthKeyring
from helpline.protocol import YOUTH_NAMESPACE


class YouthClient(BaseClient):
    namespace = YOUTH_NAMESPACE

    def __init__(self, url: str, *, pinned_fingerprint: str | None = None,
                 **kwargs: Any) -> None:
        """`pinned_fingerprint`: the organisation signing key's fingerprint (from the
        embed snippet). With it, `open` encrypts end to end and refuses a team key
        the pinned key did not sign; without it, bodies are whatever `send` is given.
        """
        super().__init__(url, **kwargs)
        self.keyring = YouthKeyring(pinned_fingerprint) if pinned_fingerprint else None
        self._crypto: ConversationCrypto | None = None
        self.conversation_id: str | None = None
        self.resume_token: str | None = None
        self.state: str | None = None
        self.sio.on("state", self._on_state, namespace=self.namespace)

    async def connect(self) -> None:
        await self._connect()

    async def open(self, language: str | None = None) -> dict[str, Any]:
        """Open a conversation; with a keyring, only after the team key verified."""
        team = None
        if self.keyring is not None:
            # Verify before anything exists on the server: a swapped key opens nothing.
            team = self.keyring.trusted_team_key(await self.call("keys"), int(time.time()))
        payload = {"language": language} if language else {}
        result = await self.call("open", payload)
        cid = result["conversation_id"]
        self.conversation_id = cid
        self.resume_token = result["resume_token"]
        self.state = result["state"]
        self.transcript(cid)
        if self.keyring is not None and team is not None:
            wraps = self.keyring.new_epoch(cid, [team])
            await self.call("epoch", {"epoch": self.keyring.epoch, "wraps": wraps,
                                      "signing_key": self.keyring.signing.public.raw})
            self._crypto = ConversationCrypto(
                cid, lambda: self.call("conversation_keys"),
                lambda keys: self._keyring().reader(cid, keys))
        return result

    async def send_text(self, text: str, client_msg_id: str | None = None) -> dict[str, Any]:
        """Encrypt, sign and send a text message."""
        return await self.send(self._keyring().seal_text(text), client_msg_id)

    async def read(self) -> list[Decrypted]:
        """Every message so far, decrypted and verified, in order."""
        if self._crypto is None:
            raise ClientError("no_keys", "this client has no conversation keys")
        return await self._crypto.read(self.messages)

    def _keyring(self) -> YouthKeyring:
        if self.keyring is None:
            raise ClientError("no_keys", "this client was made without a pinned fingerprint")
        return self.keyring

    async def resume(self, resume_token: str | None = None,
                     last_seq: int | None = None) -> dict[str, Any]:
        """Bind this connection to a conversation again and take what was missed."""
        token = resume_token or self.resume_token
        if token is None:
            raise ClientError("no_conversation", "nothing to resume")
        cid = token.partition(".")[0]
        transcript = self.transcript(cid)
        if last_seq is not None and not transcript.messages:
            transcript.start_after = last_seq
        after = transcript.last_seq
        result = await self.call("resume", {"resume_token": token, "last_seq": after})
        self.conversation_id, self.resume_token = result["conversation_id"], token
        self.state = result["state"]
        for envelope in result["messages"]:
            self._take_envelope(envelope)
        await self._fill_gap(result["conversation_id"])
        await self._notify()
        return result

    async def send(self, body: bytes, client_msg_id: str | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"body": body}
        if client_msg_id:
            payload["client_msg_id"] = client_msg_id
        result = await self.call("send", payload)
        # The server does not echo to the sender's own connection: record it here.
        assert self.conversation_id is not None
        self._take_envelope({"conversation_id": self.conversation_id, "seq": result["seq"],
                             "sender_role": "youth", "sent_at": result["sent_at"],
                             "body": body})
        return result

    async def typing(self, typing: bool) -> None:
        await self.call("typing", {"typing": typing})

    async def history(self, after_seq: int = 0, limit: int | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"after_seq": after_seq}
        if limit:
            payload["limit"] = limit
        return await self.call("history", payload)

    async def end(self) -> str:
        result = await self.call("end")
        self.state = result["state"]
        return str(result["state"])

    @property
    def messages(self) -> list[dict[str, Any]]:
        if self.conversation_id is None:
            return []
        return self.transcript(self.conversation_id).messages

    async def _on_state(self, data: dict[str, Any]) -> None:
        self.state = data.get("state", self.state)
        await self._record("state", data)

    async def _resync(self) -> None:
        if self.resume_token:
            try:
                await self.resume()
            except ClientError:
                pass

    async def _fill_gap(self, conversation_id: str) -> None:
        transcript = self.transcript(conversation_id)
        while True:
            page = await self.history(transcript.last_seq)
            for envelope in page["messages"]:
                transcript.add(envelope)
            if not page["more"]:
                break
        await self._notify()
