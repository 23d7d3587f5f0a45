"""Test clocks, after Stripe's: in sandbox mode staff or a test can move one customer's time forward, and
the normal ticks then renew, end trials, retry, expire and remind that customer as if the time had come.

Sandbox mode is PAYMENT_PROVIDER=sandbox (every enabled provider an emulator: a name that is `sandbox` or
ends in `-sandbox`); with a real provider a test clock is refused and nothing here costs a query.

How "now" follows the customer: a tick's query asks `reached(column, customer column, at)`, which is
`column <= at` for everyone and `column <= at + offset` for a customer with a clock; a job that locks
a customer's row (portal/machines.lock) runs from then on at that customer's time (`follow`), so the
invoice it opens, the retry it schedules and the period it starts are dated in the customer's time."""
import ipaddress
import math
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import and_, event, or_, select
from sqlalchemy.orm import Session

from portal import clock
from portal.billing.errors import InvalidRequest, NotAllowed
from portal.extensions import db
from portal.models import TestClock

_SESSION_CACHE = "test_clock_offsets"
# The ticks a moved clock may have made due; run once right away (the schedule would run them later).
TICKS = ("workers.ticks.renewals", "workers.ticks.dunning", "workers.ticks.pause_ends",
         "workers.ticks.checkout_expiry", "workers.ticks.billing_reminders")
MAX_ADVANCE = timedelta(days=3 * 366)


def is_sandbox_provider(name: str) -> bool:
    name = name.strip().lower()
    return name == "sandbox" or name.endswith("-sandbox")


def sandbox_mode(config=None) -> bool:
    """Every payment provider this deployment talks to is an emulator, so no real money can move: the
    CloudPayments sandbox (`sandbox`, or a name ending in `-sandbox`), or YooKassa pointed at an address
    on this machine (its sandbox; the real service is never on loopback)."""
    from portal.config import _enabled_providers

    config = config if config is not None else current_app.config
    if not config.get("PAYMENT_PROVIDER") and not config.get("PAYMENT_PROVIDERS"):
        return False
    return all(_is_emulated(name, config) for name in _enabled_providers(config))


def _is_emulated(name: str, config) -> bool:
    if is_sandbox_provider(name):
        return True
    if name == "yookassa":
        host = urlsplit(str(config.get("YOOKASSA_API_URL") or "")).hostname or ""
        return host == "localhost" or _loopback(host)
    return False


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_unless_sandbox() -> None:
    if not sandbox_mode():
        from portal.config import _enabled_providers

        raise NotAllowed("test clocks exist only in sandbox mode (every payment provider an emulator: "
                         "PAYMENT_PROVIDER=sandbox); this deployment takes real payments through "
                         f"{', '.join(_enabled_providers(current_app.config))}")


def offsets() -> dict[int, timedelta]:
    """customer id -> how far their clock runs ahead; read once per transaction (sandbox mode only)."""
    if not sandbox_mode():
        return {}
    cached = db.session.info.get(_SESSION_CACHE)
    if cached is None:
        cached = {cid: timedelta(seconds=secs) for cid, secs in db.session.execute(
            select(TestClock.customer_id, TestClock.offset_seconds).where(TestClock.offset_seconds != 0))}
        db.session.info[_SESSION_CACHE] = cached
    return cached


def offset_of(customer_id: int) -> timedelta:
    return offsets().get(customer_id, timedelta(0))


def customer_now(customer_id: int) -> datetime:
    return clock.process_now() + offset_of(customer_id)


def has_clock(customer_id: int) -> bool:
    return customer_id in offsets()


def reached(column, customer_column, at: datetime):
    """SQL: `column <= at` in each row's customer's time."""
    moved = offsets()
    if not moved:
        return column <= at
    return or_(and_(customer_column.notin_(list(moved)), column <= at),
               *(and_(customer_column == cid, column <= at + shift) for cid, shift in moved.items()))


def follow(row) -> None:
    """The job or request now works on this customer's row: its `clock.now()` is their time."""
    customer_id = getattr(row, "customer_id", None)
    if customer_id is not None and sandbox_mode():
        clock.set_customer_shift(offset_of(customer_id))


def advance_to(customer_id: int, to: datetime, *, actor: str) -> TestClock:
    """Move the customer's clock to the moment `to` (never back), in the caller's transaction; the ticks
    run after commit. Idempotent: the same moment twice moves it once."""
    if to.tzinfo is None:
        raise InvalidRequest("the time to move the clock to needs a time zone (e.g. 2027-01-31T00:00:00Z)")
    return set_offset(customer_id, math.ceil((to.astimezone(UTC) - clock.process_now()).total_seconds()),
                      actor=actor)


def advance_by(customer_id: int, days: int, *, seen_offset: int, actor: str) -> TestClock:
    """Staff's move: `days` ahead of the clock they saw (`seen_offset`). A repeated confirmation finds it
    done; a clock someone else moved meanwhile is refused, so nobody moves it further than they meant."""
    row = db.session.get(TestClock, customer_id, with_for_update=True)
    current = row.offset_seconds if row else 0
    target = seen_offset + days * 86400
    if current not in (seen_offset, target):
        raise NotAllowed("the clock was moved by someone else meanwhile; look at it again before moving it")
    return set_offset(customer_id, target, actor=actor)


def set_offset(customer_id: int, offset_seconds: int, *, actor: str) -> TestClock:
    refuse_unless_sandbox()
    row = db.session.get(TestClock, customer_id, with_for_update=True)
    current = row.offset_seconds if row else 0
    if offset_seconds < current - 1:
        moment = clock.process_now() + timedelta(seconds=current)
        raise InvalidRequest(f"a test clock only moves forward: the customer's time is already "
                             f"{moment:%Y-%m-%d %H:%M:%S}Z")
    if timedelta(seconds=offset_seconds) > MAX_ADVANCE:
        raise InvalidRequest("a test clock moves at most three years ahead of the real time")
    if row is None:
        row = TestClock(customer_id=customer_id, offset_seconds=0, advanced_by=actor)
        db.session.add(row)
    if offset_seconds > current:
        row.offset_seconds, row.advanced_by, row.updated_at = offset_seconds, actor, datetime.now(UTC)
    db.session.info.pop(_SESSION_CACHE, None)
    from portal.queue import enqueue_after_commit

    stamp = f"{customer_id}-{row.offset_seconds}"
    for path in TICKS:
        enqueue_after_commit(db.session(), path, job_id=f"{path.rsplit('.', 1)[1]}-after-clock-{stamp}")
    db.session.flush()
    return row


@event.listens_for(Session, "after_transaction_end")
def _forget_offsets(session, transaction):
    session.info.pop(_SESSION_CACHE, None)


def renewal_group(sub_id: int, customer_id: int, size: int) -> str:
    """The renewal job a due subscription goes to: RENEWAL_BATCH neighbours share one, a subscription of
    a customer with a test clock has its own (one job, one customer's time)."""
    return f"clock-{sub_id}" if has_clock(customer_id) else str(sub_id // size)
