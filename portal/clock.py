"""The one clock billing reads time from, so tests and demos can move through billing periods.

Two shifts add up: the process's own (`freeze`/`advance`, for tests) and the customer's whose rows the
current job or transaction works on (a test clock, sandbox mode only: portal/ops/test_clock.py sets it
with `set_customer_shift` when a row is locked)."""
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta

_offset = timedelta(0)
_frozen: datetime | None = None
_customer_shift: ContextVar[timedelta] = ContextVar("customer_clock_shift", default=timedelta(0))


def now() -> datetime:
    return process_now() + _customer_shift.get()


def process_now() -> datetime:
    """This process's time, whatever customer's rows are being worked on."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC) + _offset


def set_customer_shift(shift: timedelta) -> None:
    """From now on in this context (a job, a request), `now()` is the customer's time."""
    _customer_shift.set(shift)


def freeze(at: datetime) -> None:
    global _frozen
    _frozen = at.astimezone(UTC)


def advance(delta: timedelta) -> None:
    global _offset, _frozen
    if _frozen is not None:
        _frozen += delta
    else:
        _offset += delta


def reset() -> None:
    global _offset, _frozen
    _offset, _frozen = timedelta(0), None
    _customer_shift.set(timedelta(0))
