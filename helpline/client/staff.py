"""The staff side of the protocol (counsellor, supervisor, police, admin) in Python."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Mapping
from typing import Any

import aiohttp

from helpline.client.connection import BaseClient, ClientError
from helpline.client.e2e import ConversationCrypto
from helpline.crypto.envelope import SenderRole
from helpline.crypto.epochs import check_sendable
from helpline.crypto.errors import CryptoError
from helpline.crypto.keyring import Decrypted, StaffKeyring
from helpline.crypto.plaintext import referral_plaintext, text_plaintext
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

    def __init__(self, url: str, *, keyring: StaffKeyring | None = None,
                 **kwargs: Any) -> None:
        """`keyring`: this device's keys; with it the client registers the device,
        unlocks its grants, and reads and writes encrypted messages."""
        super().__init__(url, **kwargs)
        self.token: str | None = None
        self._role: str | None = None
        self.keyring = keyring
        self.queue_entries: list[dict[str, Any]] = []  # kept up to date from `queue`
        self._left_queue: set[str] = set()  # a conversation never comes back to it
        self._crypto: dict[str, ConversationCrypto] = {}
        self._youth_keys: dict[str, bytes] = {}  # first seen per conversation (pinned)
        self._send_locks: dict[str, asyncio.Lock] = {}
        self.sio.on("queue", self._on_queue, namespace=self.namespace)
        self.sio.on("epoch", self._on_epoch, namespace=self.namespace)

    @classmethod
    async def signed_in(cls, url: str, username: str, password: str,
                        **kwargs: Any) -> StaffClient:
        """Log in over HTTP and connect the socket with the token."""
        client = cls(url, **kwargs)
        session = await login(url, username, password)
        client.token, client._role = session["token"], session["role"]
        await client.connect()
        return client

    async def connect(self, token: str | None = None) -> None:
        self.token = token or self.token
        await self._connect(auth={"token": self.token})

    async def whoami(self) -> dict[str, Any]:
        return await self.call("whoami")

    async def queue(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = (await self.call("queue"))["entries"]
        self._left_queue.difference_update(e["conversation_id"] for e in entries)
        self.queue_entries = entries
        return entries

    async def held(self) -> list[dict[str, Any]]:
        return list((await self.call("held"))["conversations"])

    async def overview(self, conversation_ids: list[str] | None = None
                       ) -> list[dict[str, Any]]:
        """Every live conversation, or those of `conversation_ids` still live."""
        payload = {} if conversation_ids is None else {"conversation_ids": conversation_ids}
        return list((await self.call("overview", payload))["conversations"])

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
                             "sender_role": "police" if self._role == "police" else
                             "counsellor", "sent_at": result["sent_at"],
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

    # -- end-to-end encryption -----------------------------------------------------------

    async def register_device(self) -> dict[str, Any]:
        """Tell the server this device's public keys (an admin then grants keys to it)."""
        ring = self._keyring()
        return await self.call("register_device", {
            "encryption_key": ring.encryption.public.raw, "signing_key": ring.signing.public.raw})

    async def load_grants(self) -> list[str]:
        """Unlock the team (or police) keys granted to this device; returns the subjects."""
        return self._keyring().load_grants(await self.call("keys"))

    async def conversation_keys(self, conversation_id: str) -> Mapping[str, Any]:
        keys = await self.call("conversation_keys", {"conversation_id": conversation_id})
        youth = keys.get("youth_signing_key")
        if youth:
            # Trust on first use: a young person's key never changes within a chat.
            first = self._youth_keys.setdefault(conversation_id, bytes(youth))
            if not hmac.compare_digest(first, bytes(youth)):
                raise ClientError("key_changed",
                                  "the young person's signing key changed: not trusted")
        return keys

    async def read(self, conversation_id: str) -> list[Decrypted]:
        """Every message so far, decrypted and verified, in order."""
        return await self._crypto_for(conversation_id).read(self.messages(conversation_id))

    async def send_text(self, conversation_id: str, text: str) -> dict[str, Any]:
        """Encrypt under the newest epoch the young person signed for us, sign, send.

        The current epoch (as the server reports it, or a later one the transcript
        shows) is used only if its statement verifies against the young person's key,
        names this device's unit key, commits to the unwrapped key, and its police
        consent (if any) is live; otherwise nothing is sent and the reason is raised
        (`epoch_unverified`, `not_a_reader`, `key_mismatch`, `consent_lapsed`, `no_keys`).
        """
        return await self.send_plaintext(conversation_id, text_plaintext(text))

    async def send_referral(self, conversation_id: str, card: Mapping[str, Any]) -> dict[str, Any]:
        """Send a referral card (helpline/crypto/plaintext.py) the widget shows as a card;
        a malformed card is refused here with `invalid_payload` and nothing is sent."""
        try:
            plaintext = referral_plaintext(card)
        except CryptoError as exc:
            raise ClientError("invalid_payload", exc.message) from None
        return await self.send_plaintext(conversation_id, plaintext)

    async def send_plaintext(self, conversation_id: str, plaintext: bytes) -> dict[str, Any]:
        """Seal and send any plaintext, unchecked, as send_text does (tests use it to
        send what a broken or hostile client might)."""
        lock = self._send_locks.setdefault(conversation_id, asyncio.Lock())
        async with lock:
            crypto = self._crypto_for(conversation_id)
            await crypto.read(self.messages(conversation_id))
            assert crypto.keys is not None and crypto.reader is not None
            ring = self._keyring()
            verified = ring.verified_epochs(conversation_id, crypto.keys)
            epoch = max(int(crypto.keys["epoch"]), crypto.reader.highest_epoch_seen)
            if epoch not in verified.keys:
                refused = verified.refused.get(epoch)
                if refused is not None:  # a key is there, but not one to trust
                    raise ClientError(refused.code, refused.message)
                raise ClientError("no_keys", "this device holds no key for the current epoch")
            try:
                check_sendable(verified.statements[epoch], int(time.time()))
            except CryptoError as exc:
                raise ClientError(exc.code, exc.message) from None
            role = SenderRole.POLICE if self._role == "police" else SenderRole.COUNSELLOR
            counter = crypto.reader.next_counter(ring.signing.public.fingerprint_digest, epoch)
            sealer = ring.sealer(conversation_id, epoch, verified.keys[epoch], role, counter)
            result = await self.send(conversation_id, sealer.seal(plaintext))
            await crypto.read(self.messages(conversation_id))  # count our own message
            return result

    async def readers(self, conversation_id: str) -> list[str]:
        """Who can read the conversation's newest verified epoch, as the young person
        signed it: ["team"] or ["team", "police"]."""
        crypto = self._crypto_for(conversation_id)
        await crypto.refresh()
        latest = self._keyring().verified_epochs(conversation_id, crypto.keys or {}).latest()
        return latest.reader_kinds() if latest is not None else []

    # -- police handover ----------------------------------------------------------------

    async def offer_handover(self, conversation_id: str) -> dict[str, Any]:
        return await self.call("handover_offer", {"conversation_id": conversation_id})

    async def end_handover(self, conversation_id: str) -> dict[str, Any]:
        return await self.call("handover_end", {"conversation_id": conversation_id})

    async def create_invite(self) -> dict[str, Any]:
        return await self.call("invite_create")

    async def handover_requests(self) -> list[dict[str, Any]]:
        return list((await self.call("handover_requests"))["requests"])

    async def police_join(self, conversation_id: str) -> dict[str, Any]:
        result = await self.call("police_join", {"conversation_id": conversation_id})
        await self._fill_gap(conversation_id)
        return result

    async def police_leave(self, conversation_id: str) -> dict[str, Any]:
        return await self.call("police_leave", {"conversation_id": conversation_id})

    def _crypto_for(self, conversation_id: str) -> ConversationCrypto:
        if conversation_id not in self._crypto:
            ring = self._keyring()
            self._crypto[conversation_id] = ConversationCrypto(
                conversation_id, lambda: self.conversation_keys(conversation_id),
                lambda keys: ring.reader(conversation_id, keys))
        return self._crypto[conversation_id]

    def _keyring(self) -> StaffKeyring:
        if self.keyring is None:
            raise ClientError("no_keys", "this client was made without a device keyring")
        return self.keyring

    async def _on_epoch(self, data: dict[str, Any]) -> None:
        crypto = self._crypto.get(str(data.get("conversation_id")))
        if crypto is not None:
            crypto.reader = None  # re-read with the new epoch's key on the next read
        await self._record("epoch", data)

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        return self.transcript(conversation_id).messages

    async def _on_queue(self, data: dict[str, Any]) -> None:
        # Changes from several server processes may arrive out of order; a conversation
        # that left never joins again, so remembering who left makes the order moot.
        self._left_queue.update(data.get("left", []))
        self._apply_queue([*self.queue_entries, *data.get("joined", [])])
        await self._record("queue", data)

    def _apply_queue(self, entries: list[dict[str, Any]]) -> None:
        by_id = {e["conversation_id"]: e for e in entries
                 if e["conversation_id"] not in self._left_queue}
        ordered = sorted(by_id.values(), key=lambda e: (e["order"], e["conversation_id"]))
        self.queue_entries = [{**e, "position": i} for i, e in enumerate(ordered, start=1)]

    async def _resync(self) -> None:
        try:
            for conv in await self.held():
                await self._fill_gap(conv["conversation_id"])
            await self.queue()
        except ClientError as exc:
            await self._record("resync_failed", {"code": exc.code})

    async def _fill_gap(self, conversation_id: str) -> None:
        transcript = self.transcript(conversation_id)
        while True:
            page = await self.history(conversation_id, transcript.last_seq)
            if not transcript.messages and page.get("first_seq", 1) > transcript.last_seq + 1:
                # An officer's view starts at the handover: nothing before it exists here.
                transcript.start_after = page["first_seq"] - 1
            for envelope in page["messages"]:
                transcript.add(envelope)
            if not page["more"]:
                break
        await self._notify()
