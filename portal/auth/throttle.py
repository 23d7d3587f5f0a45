"""Sign-in throttling that slows guessing without locking the owner out.

Only wrong passwords count, in three moving windows: per address (one machine guessing many accounts), per
account and address (one machine guessing one password), per account from anywhere (a guess spread over many
machines). The last one cannot tell the owner from the crowd, so it refuses only addresses that have
already failed for this account: a flood from many addresses keeps each of them waiting while the owner,
from an address that has not guessed wrong, still signs in; the attacker gets one guess per address it has
never used, and every one of those is held by the first two windows for any account it tries next."""
import logging
import math
import time

from flask import current_app
from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

DEFAULT_LIMITS = {
    "LOGIN_LIMIT_PER_ADDRESS": "30 per minute; 300 per hour",
    "LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS": "5 per minute; 20 per hour",
    "LOGIN_LIMIT_PER_ACCOUNT": "50 per hour",
}
_NAMESPACE = "portal-login"
# (setting, scope of its counters)
_RULES = (("LOGIN_LIMIT_PER_ADDRESS", "address"), ("LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS", "pair"),
          ("LOGIN_LIMIT_PER_ACCOUNT", "account"))


def _items(name):
    return parse_many(current_app.config.get(name) or DEFAULT_LIMITS[name])


def _strategy() -> MovingWindowRateLimiter:
    """The limiter's storage (Redis when REDIS_URL is set, so every web process counts together)."""
    return MovingWindowRateLimiter(current_app.extensions["auth_limiter"].storage)


def _fallback() -> MovingWindowRateLimiter:
    # Redis away: count in this process meanwhile rather than refuse every sign-in or stop counting.
    return current_app.extensions.setdefault("auth_throttle_fallback", MovingWindowRateLimiter(MemoryStorage()))


def _keys(account: str, address: str) -> dict[str, str]:
    return {
        "LOGIN_LIMIT_PER_ADDRESS": address,
        "LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS": f"{account}|{address}",
        "LOGIN_LIMIT_PER_ACCOUNT": account,
    }


def _with_storage(work):
    try:
        return work(_strategy())
    except Exception:  # the limits library raises the storage's own errors (redis, connection)
        log.warning("sign-in throttle storage unavailable; counting in process memory", exc_info=True)
        return work(_fallback())


def _has_failed_here(strategy, account: str, address: str) -> bool:
    key = _keys(account, address)["LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS"]
    return any(strategy.get_window_stats(item, _NAMESPACE, "pair", key).remaining < item.amount
               for item in _items("LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS"))


def seconds_to_wait(account: str, address: str) -> int:
    """0 when this sign-in may be tried now, else how long until it may (the real wait, not a guess)."""

    def wait(strategy):
        now, until = time.time(), 0.0
        keys = _keys(account, address)
        for name, scope in _RULES:
            if name == "LOGIN_LIMIT_PER_ACCOUNT" and not _has_failed_here(strategy, account, address):
                continue  # an address with no wrong password for this account: maybe the owner
            for item in _items(name):
                if not strategy.test(item, _NAMESPACE, scope, keys[name]):
                    until = max(until, strategy.get_window_stats(item, _NAMESPACE, scope, keys[name]).reset_time)
        return max(1, math.ceil(until - now)) if until else 0

    return _with_storage(wait)


def record_failure(account: str, address: str) -> None:
    """A wrong password (or an unknown account) for `account` from `address`: counts in all three windows."""

    def hit(strategy):
        keys = _keys(account, address)
        for name, scope in _RULES:
            for item in _items(name):
                strategy.hit(item, _NAMESPACE, scope, keys[name])

    _with_storage(hit)
