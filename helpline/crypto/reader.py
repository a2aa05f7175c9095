"""TranscriptReader: opens one conversation's envelopes in delivery order.

On top of what open_parsed_envelope checks for a single envelope, the reader keeps
per (sender key, epoch) the sender counters it has accepted, and refuses:

- a counter it has accepted before (Replay: the same body delivered twice),
- a counter lower than the last accepted one (Reordered: the server, or someone
  between, changed the order of one sender's messages),
- a body from another conversation (WrongConversation) or from an epoch it holds
  no key for (WrongEpoch), a sender not on its roster (UnknownSender), or a
  sender claiming another role (WrongRole),
- an altered body (BadSignature) or one re-signed under a moved header (Tampered).

Gaps are allowed (a message can be refused by the server before delivery) but
reported in TranscriptEntry.missing, so a client can show that something from this
sender did not arrive. State changes only after an envelope is fully verified, so
a forged envelope cannot push a counter forward.
"""

from __future__ import annotations

from dataclasses import dataclass

from helpline.crypto.encoding import identifier_bytes
from helpline.crypto.envelope import OpenedMessage, Sender, open_parsed_envelope, parse_envelope
from helpline.crypto.errors import (
    CryptoError,
    InvalidKey,
    Reordered,
    Replay,
    UnknownSender,
    WrongConversation,
    WrongEpoch,
)
from helpline.crypto.keys import check_secret


@dataclass(frozen=True)
class TranscriptEntry:
    message: OpenedMessage
    # How many counters of this sender in this epoch were skipped just before this one.
    missing: int


class TranscriptReader:
    """Reads one conversation; give it the epoch keys and senders it should trust."""

    def __init__(self, conversation_id: str) -> None:
        identifier_bytes(conversation_id, "conversation id")
        self.conversation_id = conversation_id
        self._epoch_keys: dict[int, bytes] = {}
        self._senders: dict[bytes, Sender] = {}
        # (sender fingerprint digest, epoch) -> last accepted counter, and all accepted.
        self._last: dict[tuple[bytes, int], int] = {}
        self._seen: dict[tuple[bytes, int], set[int]] = {}
        # Epochs whose key was refused (no valid epoch statement, key mismatch): their
        # messages are reported with that reason instead of "no key".
        self._refused: dict[int, CryptoError] = {}
        # The highest epoch any envelope named: a client must not send in an older one.
        self.highest_epoch_seen = 0

    def add_epoch_key(self, epoch: int, epoch_key: bytes) -> None:
        """Trust `epoch_key` for `epoch` (unwrapped by the caller)."""
        check_secret(epoch_key, "epoch key")
        known = self._epoch_keys.get(epoch)
        if known is not None and known != epoch_key:
            raise InvalidKey(f"epoch {epoch} already has another key")
        self._epoch_keys[epoch] = epoch_key

    def refuse_epoch(self, epoch: int, error: CryptoError) -> None:
        """Remember why `epoch` has no key, to report it on each of its messages."""
        self._refused[epoch] = error

    def add_sender(self, sender: Sender) -> None:
        """Accept messages signed by `sender.public_key`, in `sender.role` only."""
        digest = sender.public_key.fingerprint_digest
        known = self._senders.get(digest)
        if known is not None and known != sender:
            raise InvalidKey("this signing key is already on the roster with another role")
        self._senders[digest] = sender

    def sender(self, sender_fingerprint_digest: bytes) -> Sender | None:
        """The roster entry for a signing key (callers check what it carries)."""
        return self._senders.get(sender_fingerprint_digest)

    def next_counter(self, sender_fingerprint_digest: bytes, epoch: int) -> int:
        """The counter a sender should use next in `epoch`, given what was read so far.

        A client that restarts mid-conversation (a staff device) continues its count
        from the transcript instead of reusing a counter, which readers would refuse.
        """
        return self._last.get((sender_fingerprint_digest, epoch), -1) + 1

    def open(self, envelope: bytes) -> TranscriptEntry:
        """Verify and decrypt the next envelope in delivery order."""
        parsed = parse_envelope(envelope)
        header = parsed.header
        if header.conversation_id != self.conversation_id:
            raise WrongConversation()
        self.highest_epoch_seen = max(self.highest_epoch_seen, header.epoch)
        epoch_key = self._epoch_keys.get(header.epoch)
        if epoch_key is None:
            refused = self._refused.get(header.epoch)
            if refused is not None:
                raise type(refused)(refused.message)
            raise WrongEpoch(f"no key for epoch {header.epoch}")
        sender = self._senders.get(header.sender_fingerprint)
        if sender is None:
            raise UnknownSender()
        message = open_parsed_envelope(
            parsed,
            epoch_key=epoch_key,
            conversation_id=self.conversation_id,
            epoch=header.epoch,
            sender=sender,
        )
        slot = (header.sender_fingerprint, header.epoch)
        seen = self._seen.setdefault(slot, set())
        if message.counter in seen:
            raise Replay(f"counter {message.counter} already delivered")
        last = self._last.get(slot, -1)
        if message.counter < last:
            raise Reordered(f"counter {message.counter} after {last}")
        seen.add(message.counter)
        self._last[slot] = message.counter
        return TranscriptEntry(message=message, missing=message.counter - last - 1)
