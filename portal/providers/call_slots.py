"""The terminal's concurrency limit, kept on our side: at most PROVIDER_CONCURRENCY API calls in flight
across every process that calls the provider, so a renewal run can keep the terminal busy from any
number of workers without a 429.

With Redis, a slot is a lease: a member of a sorted set scored by when it runs out, taken and handed back
in one round trip each. A process killed in the middle of a call frees its slot when the lease ends
(longer than any call may take). A call that finds every slot taken waits for one to be handed back
(each hand-back wakes one waiter through a list), up to `wait_seconds`; then it is a passing error and
the job tries again later. Without Redis (the embedded default) the slots are a semaphore of the process."""
from __future__ import annotations

import logging
import threading
import time
import uuid
from contextlib import contextmanager

from redis.exceptions import RedisError

from portal.providers.base import RetryableProviderError

log = logging.getLogger(__name__)

# Take a slot if one is free: slots whose lease ran out are dropped first. Redis's own clock, so the
# processes' clocks need not agree.
_TAKE = """
local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
# Hand a slot back and wake one waiter; the wake-up list never holds more than the slots.
_GIVE_BACK = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('LPUSH', KEYS[2], 1)
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 0
"""
# A waiter looks again this often even without a wake-up: a lease that ran out wakes nobody.
_RECHECK_SECONDS = 0.1


class SharedCallSlots:
    def __init__(self, redis, name: str, limit: int, *, lease_seconds: float, wait_seconds: float):
        self.limit = limit
        self.wait_seconds = wait_seconds
        self._keys = (f"portal:call-slots:{name}", f"portal:call-slots:{name}:handed-back")
        self._lease_ms = int(lease_seconds * 1000)
        self._redis = redis
        self._take = redis.register_script(_TAKE)
        self._give_back = redis.register_script(_GIVE_BACK)

    @contextmanager
    def held(self):
        token = uuid.uuid4().hex
        try:
            self._wait_for_slot(token)
        except RedisError as error:
            # No way to know what the other processes have in flight: no call, and the job goes again.
            raise RetryableProviderError(f"provider call slots unavailable (Redis: {error})") from None
        try:
            yield
        finally:
            try:
                self._give_back(keys=self._keys, args=[token, self.limit, self._lease_ms])
            except RedisError as error:
                log.warning("provider call slot not handed back (Redis: %s); it frees when its lease ends", error)

    def _wait_for_slot(self, token: str) -> None:
        deadline = time.monotonic() + self.wait_seconds
        while not self._take(keys=self._keys[:1], args=[self.limit, self._lease_ms, token]):
            left = deadline - time.monotonic()
            if left <= 0:
                raise RetryableProviderError(f"all {self.limit} provider call slots stayed taken for "
                                             f"{self.wait_seconds:g}s (PROVIDER_CONCURRENCY)")
            self._redis.blpop([self._keys[1]], timeout=min(left, _RECHECK_SECONDS))

    def taken(self) -> int:
        return self._redis.zcard(self._keys[0])


class LocalCallSlots:
    def __init__(self, limit: int, *, wait_seconds: float):
        self.limit = limit
        self.wait_seconds = wait_seconds
        self._semaphore = threading.BoundedSemaphore(limit)

    @contextmanager
    def held(self):
        if not self._semaphore.acquire(timeout=self.wait_seconds):
            raise RetryableProviderError(f"all {self.limit} provider call slots stayed taken for "
                                         f"{self.wait_seconds:g}s (PROVIDER_CONCURRENCY)")
        try:
            yield
        finally:
            self._semaphore.release()


def call_slots_from_config(config, name: str, *, lease_seconds: float, wait_seconds: float = 30):
    """None when PROVIDER_CONCURRENCY is not set: no limit of our own."""
    limit = config.get("PROVIDER_CONCURRENCY")
    if not limit:
        return None
    if config.get("REDIS_URL"):
        from redis import Redis

        return SharedCallSlots(Redis.from_url(config["REDIS_URL"]), name, int(limit),
                               lease_seconds=lease_seconds, wait_seconds=wait_seconds)
    return LocalCallSlots(int(limit), wait_seconds=wait_seconds)
