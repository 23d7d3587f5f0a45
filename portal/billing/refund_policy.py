"""How much of a paid period goes back to a customer who cancels now: the one place this is decided."""
from datetime import datetime

from flask import current_app

DAY_SECONDS = 24 * 3600


def unused_days_refund(amount: int, period_start: datetime, period_end: datetime, at: datetime) -> int:
    """The unused whole days of the paid period, prorated and rounded down to the minor unit.
    The day under way counts as used."""
    total_days = max(1, round((period_end - period_start).total_seconds() / DAY_SECONDS))
    unused_days = max(0, int((period_end - at).total_seconds() // DAY_SECONDS))
    return amount * min(unused_days, total_days) // total_days


def refund_for_cancel_now(invoice, at: datetime) -> int:
    """What cancelling now refunds from this paid invoice under the configured policy
    (REFUND_POLICY: "prorated" by default, or "none")."""
    if invoice is None or invoice.status != "paid" or invoice.amount_refundable <= 0:
        return 0
    policy = current_app.config.get("REFUND_POLICY", "prorated")
    if policy == "none" or invoice.period_start is None or invoice.period_end is None:
        return 0
    if policy != "prorated":
        raise ValueError(f"unknown REFUND_POLICY {policy!r}")
    due = unused_days_refund(invoice.amount, invoice.period_start, invoice.period_end, at)
    return min(due, invoice.amount_refundable)
