"""Decrypting a conversation as it arrives, for both Python clients.

`ConversationCrypto` keeps one conversation's reader and what it has opened so far,
opens new envelopes in seq order, and rebuilds the reader (from fresh
`conversation_keys`) when a new epoch or a new participant appears. A body that
fails a check is reported with the crypto error's code instead of its text, and
the conversation goes on: one bad body must not hide the rest.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from helpline.crypto.errors import CryptoError, UnknownSender, WrongEpoch
from helpline.crypto.keyring import Decrypted, open_record, refused_record
from helpline.crypto.reader import TranscriptReader

ReaderFactory = Callable[[Mapping[str, Any]], tuple[TranscriptReader, dict[bytes, str]]]
KeyFetcher = Callable[[], Awaitable[Mapping[str, Any]]]


@dataclass
class ConversationCrypto:
    conversation_id: str
    fetch_keys: KeyFetcher
    make_reader: ReaderFactory
    keys: Mapping[str, Any] | None = None
    reader: TranscriptReader | None = None
    names: dict[bytes, str] = field(default_factory=dict)
    opened: list[Decrypted] = field(default_factory=list)

    async def refresh(self) -> None:
        """Fetch the keys again and re-read from the start with a new reader."""
        self.keys = await self.fetch_keys()
        self.reader, self.names = self.make_reader(self.keys)
        self.opened = []

    async def read(self, envelopes: list[dict[str, Any]]) -> list[Decrypted]:
        """Open every envelope not opened yet (they must be in seq order, gap-free)."""
        if self.reader is None:
            await self.refresh()
        refreshed = False
        while len(self.opened) < len(envelopes):
            envelope = envelopes[len(self.opened)]
            try:
                self.opened.append(self._open(envelope))
            except (UnknownSender, WrongEpoch):
                if not refreshed:
                    # A new epoch or participant: fetch keys once and read again.
                    refreshed = True
                    await self.refresh()
                    continue
                self.opened.append(self._refused(envelope, "unknown_sender_or_epoch"))
            except CryptoError as exc:
                self.opened.append(self._refused(envelope, exc.code))
        return list(self.opened)

    def _open(self, envelope: dict[str, Any]) -> Decrypted:
        assert self.reader is not None
        return open_record(self.reader, self.names, envelope)

    @staticmethod
    def _refused(envelope: dict[str, Any], code: str) -> Decrypted:
        return refused_record(envelope, code)
