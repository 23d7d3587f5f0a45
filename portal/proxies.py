"""Noticing a proxy nobody configured: requests carrying X-Forwarded-For while PROXY_HOPS is 0 mean the
portal sits behind a load balancer whose address every client now shares (sign-in throttles, sign-up
limits, the audit's addresses). Logged once per process and shown by /readyz for an hour after the last one."""
import logging
import time

from flask import current_app, request

log = logging.getLogger(__name__)

SEEN_KEY = "portal:unconfigured-proxy-seen"
SHOWN_FOR = 3600  # seconds /readyz keeps saying so after the last such request
NOTE_EVERY = 60  # seconds between two notes of one process (a busy site sends the header on every request)
WARNING = ("requests carry X-Forwarded-For but PROXY_HOPS is 0: every client behind the proxy shares its "
           "address for rate limits and audit; set PROXY_HOPS to the number of proxies in front of web (README)")


def _state() -> dict:
    return current_app.extensions.setdefault("unconfigured_proxy", {})


def _redis():
    if not current_app.config.get("REDIS_URL"):
        return None
    from portal.queue import billing_queue

    return billing_queue().connection


def note_forwarded_request() -> None:
    """before_request: remembers that a forwarded request came in while no proxy is trusted."""
    if current_app.config.get("PROXY_HOPS") or "X-Forwarded-For" not in request.headers:
        return
    state, now = _state(), time.time()
    if now - state.get("noted_at", 0) < NOTE_EVERY:
        return
    if "noted_at" not in state:
        log.warning(WARNING)
    state["noted_at"] = now
    redis = _redis()
    if redis is not None:
        try:
            redis.set(SEEN_KEY, int(now), ex=SHOWN_FOR)
        except Exception:  # Redis away: this process still remembers, and /readyz reports Redis itself
            log.debug("could not record the forwarded request in Redis", exc_info=True)


def unconfigured_proxy_warning() -> str | None:
    """The warning for /readyz when this process, or any other through Redis, saw such a request lately."""
    if current_app.config.get("PROXY_HOPS"):
        return None
    seen = time.time() - _state().get("noted_at", -SHOWN_FOR) < SHOWN_FOR
    redis = _redis()
    if not seen and redis is not None:
        try:
            seen = bool(redis.exists(SEEN_KEY))
        except Exception:  # reported by the redis check of /readyz
            seen = False
    return WARNING if seen else None
