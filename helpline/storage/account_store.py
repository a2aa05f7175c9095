"""Account storage beyond redis_store.py: replacing a password hash atomically.

Mixed into RedisStore (which provides `self.redis` and `self.keys`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from helpline.storage.keys import Keys

# Replace the hash only if it is still the one the caller checked the password
# against, so a re-hash at login never overwrites a password set in between.
# KEYS: staff(username); ARGV: expected hash, new hash
SWAP_HASH_SCRIPT = """
if redis.call('HGET', KEYS[1], 'password_hash') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'password_hash', ARGV[2])
return 1
"""


class AccountStoreMixin:
    redis: aioredis.Redis
    keys: Keys

    async def replace_password_hash(self, username: str, expected: str, new: str) -> bool:
        """Swap the stored hash if it is still `expected`; False if it changed meanwhile."""
        script = self.redis.register_script(SWAP_HASH_SCRIPT)
        return bool(await script(keys=[self.keys.staff(username)], args=[expected, new]))
