"""The only code that talks to Redis: `RedisStore`, composed of one mixin per aggregate.

Methods are named verb_noun. A change that spans several keys runs as one Lua script
(storage/scripts.py) or one MULTI/EXEC pipeline. The store checks the preconditions
it is told (expected state, expected counsellor) atomically, but decides no policy:
which states allow what is the domain's business.

Each aggregate has its own module, whose docstring names the keys it owns (keys.py
declares the key formats):

    conversation_store  opening (intake, offline, invites), the queue, accept, end,
                        wrap-up, reassign; who has held a conversation
    message_store       appending and reading message envelopes
    e2e_store           a conversation's epoch statements and wraps; the police handover
    retention_store     closing idle conversations, purging due ones
    stats_store         the weekly statistics and the conversations still to count
    account_store       staff members, sessions, the login throttle
    keyadmin_store      organisation keys and statements, devices, grants, revocations
    returncode_store    return codes and their attempt counters
    audit_store         the audit chain, its checkpoints, read de-duplication
    job_store           job locks and the job log
    presence_store      which staff members have a live socket (in any process)
    directory_store     what the console edits: canned answers, referrals, opening hours

They share `StoreBase` (base.py): the client, the key names, the scripts. This module
keeps the composition, the connection (close, ping) and the control channel

    {p}control              pub/sub control messages between server processes

and re-exports the errors the store raises, so they are imported from here.
"""

from __future__ import annotations

import json

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import BusyLoadingError

from helpline.storage.account_store import AccountStoreMixin
from helpline.storage.audit_store import AuditStoreMixin
from helpline.storage.base import StateConflict
from helpline.storage.conversation_store import ConversationStoreMixin
from helpline.storage.directory_store import DirectoryStoreMixin
from helpline.storage.e2e_store import BadEpoch, ConsentReplay, E2EStoreMixin, HandoverConflict
from helpline.storage.job_store import JobStoreMixin
from helpline.storage.keyadmin_store import KeyAdminStoreMixin
from helpline.storage.message_store import MessageStoreMixin
from helpline.storage.presence_store import PresenceStoreMixin
from helpline.storage.retention_store import RetentionStoreMixin
from helpline.storage.returncode_store import ReturnCodeStoreMixin
from helpline.storage.stats_store import StatsStoreMixin

__all__ = [
    "BadEpoch",
    "ConsentReplay",
    "HandoverConflict",
    "RedisStore",
    "StateConflict",
    "connect_redis",
]


def connect_redis(url: str, max_connections: int) -> aioredis.Redis:
    """A bytes-mode client with a bounded pool that waits instead of failing when full.

    After a Redis restart: a pooled connection whose socket the old server closed is
    noticed when it is taken from the pool and reconnected before use (redis-py checks
    for EOF), so the first requests do not fail one per stale connection
    (tests/test_redis_outage.py). A command answered `LOADING` (Redis still reading
    its append-only file) is retried with a short backoff for about 2 s: it did not
    run, so retrying is safe even for writes. Other failures are not retried (a write
    whose answer was lost may have run) and reach the edges as `unavailable`.
    """
    retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=6,
                  supported_errors=(BusyLoadingError,))
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=10, retry=retry,
    )
    return aioredis.Redis(connection_pool=pool, decode_responses=False)


class RedisStore(ConversationStoreMixin, MessageStoreMixin, E2EStoreMixin,
                 RetentionStoreMixin, StatsStoreMixin, AccountStoreMixin, KeyAdminStoreMixin,
                 ReturnCodeStoreMixin, AuditStoreMixin, JobStoreMixin, DirectoryStoreMixin,
                 PresenceStoreMixin):
    """All Redis access; built as `RedisStore(redis, prefix)` (StoreBase.__init__)."""

    # -- health -------------------------------------------------------------------

    async def close(self) -> None:
        await self.redis.aclose()
        await self.redis.connection_pool.disconnect()

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    # -- control messages between processes ---------------------------------------

    async def publish_control(self, message: dict[str, str]) -> None:
        await self.redis.publish(self.keys.control_channel, json.dumps(message))
