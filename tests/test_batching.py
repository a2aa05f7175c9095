"""Script calls sent together in one pipeline (storage/batching.py): each caller gets
its own answer, one failing call fails only its caller, and lost scripts are reloaded."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ResponseError

from helpline.storage.batching import ScriptBatcher
from tests.conftest import Harness

ECHO = "if ARGV[1] == 'fail' then return redis.error_reply('boom') end return ARGV[1]"


async def test_concurrent_calls_each_get_their_own_answer(harness: Harness) -> None:
    r = await harness.redis()
    try:
        script = r.register_script(ECHO)
        batcher = ScriptBatcher(r)
        args = [f"call-{i}" for i in range(300)] + ["fail"]
        results = await asyncio.gather(*(batcher.run(script, ["k"], [a]) for a in args),
                                       return_exceptions=True)
        assert results[:300] == [a.encode() for a in args[:300]]
        assert isinstance(results[300], ResponseError)
        # Redis forgot its scripts (a restart): the next batch loads and runs them.
        await r.script_flush()
        again = await asyncio.gather(*(batcher.run(script, ["k"], [f"x{i}"])
                                       for i in range(5)))
        assert again == [f"x{i}".encode() for i in range(5)]
        with pytest.raises(ResponseError):
            await batcher.run(script, ["k"], ["fail"])
    finally:
        await r.aclose()
