"""Return codes v2 through a real server, Redis and socket.io clients: the look-up
words alone open and change nothing, a use is told to the open widget, guessing is
limited per code and per connection (counted before the look-up), and the police
state travels in the wrap."""

from __future__ import annotations

import asyncio
import os
import secrets
from typing import Any

from helpline.client import YouthClient
from helpline.crypto.returncode import WORDS, PoliceState, derive_code_keys, split_code
from helpline.services.returncodes import MAX_ATTEMPTS_PER_CODE, MAX_ATTEMPTS_PER_CONNECTION
from tests.conftest import Harness, ServerProcess


async def _raw(harness: Harness, server: ServerProcess) -> YouthClient:
    client = YouthClient(server.url)
    harness.clients.append(client)
    await client.connect()
    return client


async def _redis_dump(harness: Harness) -> bytes:
    r = await harness.redis()
    out = b""
    async for key in r.scan_iter(match=f"{harness.prefix}*"):
        out += key
        kind = (await r.type(key)).decode()
        if kind == "hash":
            out += b"".join(k + v for k, v in (await r.hgetall(key)).items())
        elif kind == "string":
            out += await r.get(key)
    await r.aclose()
    return out


def _error(ack: dict[str, Any]) -> str:
    return str(ack["error"]["code"]) if "error" in ack else "ok"


async def test_the_server_never_sees_the_secret_words_nor_the_proof(
    harness: Harness, server: ServerProcess
) -> None:
    await harness.init_keys()
    youth = await harness.secure_youth()
    code = await youth.request_return_code()
    lookup, secret = split_code(code)
    assert len(code.split("-")) == 8 and len(secret.split("-")) == 5
    keys = derive_code_keys(code)
    dump = await _redis_dump(harness)
    for text in (code, secret, lookup):
        assert text.encode() not in dump
        assert text not in server.log()
    for secret_bytes in (keys.proof, keys.master, keys.proof.hex().encode(),
                         keys.master.hex().encode()):
        assert secret_bytes not in dump
    assert keys.verifier in dump  # what the server keeps instead: a hash of the proof
    # The proof shown on a return is checked, never stored or logged either.
    again = YouthClient(server.url, pinned_fingerprint=harness.fingerprint)
    harness.clients.append(again)
    await again.connect()
    await again.resume_with_code(code)
    assert keys.proof not in await _redis_dump(harness)
    assert keys.proof.hex() not in server.log()


async def test_the_lookup_words_alone_open_nothing_and_change_nothing(
    harness: Harness, server: ServerProcess
) -> None:
    """Finding 4: with the three look-up words, the landed code released the blob,
    bound the connection, replaced the resume token and let it end or delete."""
    await harness.init_keys()
    youth = await harness.secure_youth()
    await youth.send_text("only the young person and the team may read this")
    code = await youth.request_return_code()
    lookup, _ = split_code(code)
    token_before = youth.resume_token
    # Everything the young person's conversation is, apart from its messages.
    watched = [f"{harness.prefix}conv:{youth.conversation_id}",
               f"{harness.prefix}conv:{youth.conversation_id}:e2e"]
    r = await harness.redis()
    before = {k: await r.hgetall(k) for k in watched}
    await r.aclose()
    assert all(before.values())

    attacker = await _raw(harness, server)
    # The landed format (look-up words only) is refused outright.
    assert _error(await attacker.emit_raw("resume_code", {"code": lookup})) == "invalid_payload"
    assert _error(await attacker.emit_raw("resume_code", {"lookup": lookup})) == "invalid_payload"
    # A guessed proof: nothing released (no blob, no token, no transcript), not bound.
    ack = await attacker.emit_raw("resume_code", {"lookup": lookup, "proof": os.urandom(32)})
    assert ack == {"error": {"code": "not_found", "message": "No conversation has this code."}}
    for event, payload in (
        ("end", {"delete": True}), ("end", {}), ("handover_withdraw", {}),
        ("return_code", {"lookup": lookup, "verifier": os.urandom(32)}),
        ("code_wrap", {"blob": b"\x02" + os.urandom(40)}), ("conversation_keys", {}),
        ("history", {"after_seq": 0}), ("send", {"body": b"x"}),
    ):
        assert _error(await attacker.emit_raw(event, payload)) == "no_conversation", event
    # Registering the same look-up words for another conversation replaces nothing.
    await attacker.open()
    taken = await attacker.emit_raw("return_code", {"lookup": lookup, "verifier": os.urandom(32)})
    assert _error(taken) == "conflict"

    r = await harness.redis()
    for key, fields in before.items():
        assert await r.hgetall(key) == fields, key  # state, resume hash, consent, lookup
    await r.aclose()
    # The young person's token and code both still work.
    assert youth.connected and (await youth.history(0))["messages"]
    await youth.disconnect()
    resumed = await _raw(harness, server)
    assert (await resumed.resume(token_before))["state"] == "queued"
    back = YouthClient(server.url, pinned_fingerprint=harness.fingerprint)
    harness.clients.append(back)
    await back.connect()
    await back.resume_with_code(code)
    assert [m.text for m in await back.read()] == [
        "only the young person and the team may read this"]


async def test_a_use_of_the_code_is_told_to_the_other_open_connection(
    harness: Harness, server: ServerProcess
) -> None:
    await harness.init_keys()
    youth = await harness.secure_youth()
    code = await youth.request_return_code()
    elsewhere = YouthClient(server.url, pinned_fingerprint=harness.fingerprint)
    harness.clients.append(elsewhere)
    await elsewhere.connect()
    await elsewhere.resume_with_code(code)
    told = await youth.wait_for("code_used")
    assert told == {"conversation_id": youth.conversation_id}  # no content, no details
    await asyncio.sleep(0.2)
    assert elsewhere.events("code_used") == []  # the new connection is not told itself
    # A wrong proof tells nobody anything.
    guesser = await _raw(harness, server)
    await guesser.emit_raw("resume_code", {"lookup": split_code(code)[0],
                                           "proof": os.urandom(32)})
    await asyncio.sleep(0.2)
    assert len(youth.events("code_used")) == 1 and elsewhere.events("code_used") == []


async def test_a_parallel_burst_gets_only_the_limit_through_and_other_codes_still_work(
    harness: Harness, server: ServerProcess
) -> None:
    """Finding 7: the landed throttle counted after the look-up (a burst got through
    twice the limit) and 30 wrong guesses locked every honest return out."""
    await harness.init_keys()
    victim = await harness.secure_youth()
    victim_code = await victim.request_return_code()
    honest = await harness.secure_youth()
    honest_code = await honest.request_return_code()
    lookup = split_code(victim_code)[0]

    guessers = [await _raw(harness, server) for _ in range(4 * MAX_ATTEMPTS_PER_CODE)]
    acks = await asyncio.gather(*[
        g.emit_raw("resume_code", {"lookup": lookup, "proof": os.urandom(32)})
        for g in guessers])
    outcomes = sorted(_error(a) for a in acks)
    assert outcomes.count("not_found") == MAX_ATTEMPTS_PER_CODE
    assert outcomes.count("rate_limited") == len(guessers) - MAX_ATTEMPTS_PER_CODE
    # That code is held for its window, the right proof too (no hit/miss signal)...
    held = await _raw(harness, server)
    right = derive_code_keys(victim_code)
    ack = await held.emit_raw("resume_code", {"lookup": lookup, "proof": right.proof})
    assert _error(ack) == "rate_limited"
    # ...but every other code works meanwhile, while the hammering goes on.
    more = asyncio.gather(*[
        g.emit_raw("resume_code", {"lookup": lookup, "proof": os.urandom(32)})
        for g in guessers[:5]])
    back = YouthClient(server.url, pinned_fingerprint=harness.fingerprint)
    harness.clients.append(back)
    await back.connect()
    result = await back.resume_with_code(honest_code)
    assert result["conversation_id"] == honest.conversation_id
    assert {_error(a) for a in await more} == {"rate_limited"}
    # Many codes tried from many connections are no global switch either: a code
    # nobody guessed at still opens.
    for g in guessers:
        words = "-".join(secrets.choice(WORDS) for _ in range(3))
        assert _error(await g.emit_raw("resume_code", {
            "lookup": words, "proof": os.urandom(32)})) in ("not_found", "rate_limited")
    third = await harness.secure_youth()
    third_code = await third.request_return_code()
    again = YouthClient(server.url, pinned_fingerprint=harness.fingerprint)
    harness.clients.append(again)
    await again.connect()
    assert (await again.resume_with_code(third_code))["conversation_id"] == third.conversation_id


async def test_one_connection_is_limited_across_codes(
    harness: Harness, server: ServerProcess
) -> None:
    await harness.init_keys()
    youth = await harness.secure_youth()
    code = await youth.request_return_code()
    right = derive_code_keys(code)
    sprayer = await _raw(harness, server)
    for _ in range(MAX_ATTEMPTS_PER_CONNECTION):
        words = "-".join(secrets.choice(WORDS) for _ in range(3))
        ack = await sprayer.emit_raw("resume_code", {"lookup": words, "proof": os.urandom(32)})
        assert _error(ack) == "not_found"
    # The next attempt from this connection is refused, even with a right code...
    ack = await sprayer.emit_raw("resume_code", {"lookup": right.lookup, "proof": right.proof})
    assert _error(ack) == "rate_limited"
    # ...which still opens from any other connection.
    fresh = await _raw(harness, server)
    ack = await fresh.emit_raw("resume_code", {"lookup": right.lookup, "proof": right.proof})
    assert ack["ok"]["conversation_id"] == youth.conversation_id
    assert isinstance(ack["ok"]["code_wrap"], str)  # base64url text, as all bytes


async def test_a_right_proof_gives_its_attempt_back(
    harness: Harness, server: ServerProcess
) -> None:
    """A young person who comes back often is not throttled by their own returns."""
    await harness.init_keys()
    youth = await harness.secure_youth()
    code = await youth.request_return_code()
    right = derive_code_keys(code)
    for _ in range(MAX_ATTEMPTS_PER_CODE + 2):
        client = await _raw(harness, server)
        ack = await client.emit_raw("resume_code", {"lookup": right.lookup,
                                                    "proof": right.proof})
        assert _error(ack) == "ok"


async def test_registration_and_return_payloads_are_parsed_strictly(
    harness: Harness, server: ServerProcess
) -> None:
    youth = await harness.youth()
    lookup = "-".join(WORDS[:3])
    for payload in (
        {"code": lookup},  # format 1
        {"lookup": lookup},
        {"lookup": lookup, "verifier": os.urandom(31)},
        {"lookup": lookup, "verifier": "*" * 43},  # not base64url
        {"lookup": lookup, "verifier": os.urandom(32), "proof": os.urandom(32)},
        {"lookup": "-".join(WORDS[:4]), "verifier": os.urandom(32)},
        {"lookup": "Abandon-ability-able", "verifier": os.urandom(32)},
        {"lookup": "abandon-ability-zzzz", "verifier": os.urandom(32)},  # not list words
    ):
        assert _error(await youth.emit_raw("return_code", payload)) == "invalid_payload", payload
    assert _error(await youth.emit_raw("return_code", {
        "lookup": lookup, "verifier": os.urandom(33)})) == "too_large"
    stranger = await _raw(harness, server)
    for payload in (
        {"lookup": lookup, "proof": os.urandom(31)},
        {"lookup": lookup, "proof": "*" * 43},  # not base64url
        {"lookup": lookup, "proof": os.urandom(32), "verifier": os.urandom(32)},
        {"lookup": "-".join(WORDS[:4]), "proof": os.urandom(32)},
        {"lookup": lookup.upper(), "proof": os.urandom(32)},
    ):
        assert _error(await stranger.emit_raw("resume_code", payload)) == "invalid_payload"


async def test_the_police_state_travels_in_the_code_wrap(
    harness: Harness, server: ServerProcess
) -> None:
    await harness.init_keys()
    youth = await harness.secure_youth()
    state = PoliceState("ab" * 32, 1_900_000_000, True)
    youth.police_state = state
    code = await youth.request_return_code()
    back = YouthClient(server.url, pinned_fingerprint=harness.fingerprint)
    harness.clients.append(back)
    await back.connect()
    await back.resume_with_code(code)
    assert back.restored_police == state
    # With no police state the wrap says so (null), and a restore believes it.
    youth.police_state = None
    await youth._upload_code_wrap()
    later = YouthClient(server.url, pinned_fingerprint=harness.fingerprint)
    harness.clients.append(later)
    await later.connect()
    await later.resume_with_code(code)
    assert later.restored_police is None
