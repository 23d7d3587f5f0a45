"""The proration rule of a plan change, in one place: which way a change goes, when it takes effect and
what it costs, counted by whole days.

Direction. A plan of a longer billing interval (monthly -> yearly, weekly -> monthly) is an *upgrade*
whatever its price per day: it asks for more money up front, so it starts at once, in a new period of
the new plan from the moment of the change (the anchor becomes that moment, as Stripe resets the billing
cycle on an interval change). On the same interval a higher price is an upgrade, a lower one a
*downgrade*, an equal one a *switch* (at once, nothing to pay). A shorter interval is a downgrade. A
downgrade waits for the period end: the customer keeps what they paid for, and the renewal bills the new
plan.

Days. The unused part of the current period is the whole days from the change to the period end, the
day under way counted as used (15 days and 14 hours left are 15 days); the period's length is its whole
days (a calendar month is 28 to 31). A change on the last day of the period leaves 0 unused days.

Amount, rounded half-up to the minor unit once, at the end:
- same interval, upgrade: (new price - old price) * unused days / period days;
- longer interval: new price - old price * unused days / period days (the unused credit), never below 0.

Worked examples (prices in minor units; RUB 299.00 is 29900):
- Monthly 29900 -> Premium 49900 (both monthly), period 1 December - 1 January (31 days), changed on
  16 December at 10:00: 15 unused days; 20000 * 15 / 31 = 9677.42 -> 9677 (RUB 96.77).
- The same change on 1 December at 00:00 (nothing used yet): 31 days; 20000 * 31 / 31 = 20000.
- Monthly 29900 -> Premium 49900 on 31 December at 12:00: 0 unused days; 0, the plan switches at once.
- Monthly 29900 -> Yearly 299000, period 1 December - 1 January, changed on 11 December at 09:00: 20
  unused days; credit 29900 * 20 / 31 = 19290.32 -> 19290; charge 299000 - 19290 = 279710 (RUB 2797.10),
  and the yearly period runs from 11 December 09:00 to 11 December next year.
- 1 unit of 10 minor units on a 3-day period, 1 day unused: 10 * 1 / 3 = 3.33 -> 3; 2 days: 6.67 -> 7;
  a half (5 * 1 / 2 = 2.5) rounds up to 3.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from portal.billing.periods import add_interval

UPGRADE, DOWNGRADE, SWITCH = "upgrade", "downgrade", "switch"
DAY = timedelta(days=1)
# Nominal days per interval unit, only to order intervals by length (a month is never longer than a year).
_NOMINAL_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}


@dataclass(frozen=True)
class Quote:
    """What a change to another plan does, as of `at`."""
    direction: str  # UPGRADE, DOWNGRADE or SWITCH
    at: datetime  # when it was computed: the moment an immediate change takes effect
    amount: int  # to charge now, in minor units (0 for a downgrade, which waits)
    currency: str
    unused_days: int
    period_days: int
    credit: int  # what the unused days of the current period are worth, where it is deducted
    # The period the subscription is in after an immediate change: the current one, or a new one of the new plan.
    period_start: datetime | None
    period_end: datetime | None
    new_period: bool  # an interval change: the new plan's period starts now

    @property
    def immediate(self) -> bool:
        return self.direction != DOWNGRADE


def half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-up, for a non-negative numerator and a positive denominator."""
    return (2 * numerator + denominator) // (2 * denominator)


def whole_days(start: datetime, end: datetime) -> int:
    """Whole days from `start` to `end`: a day under way does not count."""
    return max(0, (end - start) // DAY)


def interval_days(unit: str, count: int) -> int:
    return _NOMINAL_DAYS[unit] * count


def quote(*, old_plan, old_amount: int, new_plan, period_start: datetime, period_end: datetime,
          at: datetime, trialing: bool = False) -> Quote:
    """The change from `old_plan` (sold at `old_amount`) to `new_plan` for a subscription in the period
    [period_start, period_end) at moment `at`. During a free trial nothing has been paid: any change is
    made at once for nothing, and the trial goes on."""
    way = direction(old_plan, old_amount, new_plan)
    period_days = max(1, round((period_end - period_start) / DAY))
    unused = min(period_days, whole_days(at, period_end))
    if trialing:
        return Quote(SWITCH if way == DOWNGRADE else way, at, 0, new_plan.currency, unused, period_days, 0,
                     period_start, period_end, False)
    if way == DOWNGRADE:
        return Quote(way, at, 0, new_plan.currency, unused, period_days, 0, None, None, False)
    same_interval = (new_plan.interval_unit, new_plan.interval_count) == (old_plan.interval_unit,
                                                                        old_plan.interval_count)
    if same_interval:
        amount = half_up(max(0, new_plan.amount - old_amount) * unused, period_days)
        return Quote(way, at, amount, new_plan.currency, unused, period_days, 0, period_start, period_end, False)
    credit = half_up(old_amount * unused, period_days)
    return Quote(way, at, max(0, new_plan.amount - credit), new_plan.currency, unused, period_days, credit, at,
                 add_interval(at, new_plan.interval_unit, new_plan.interval_count), True)


def direction(old_plan, old_amount: int, new_plan) -> str:
    """Which way a change goes, against the price the customer pays now (a later list price change keeps it)."""
    old_length = interval_days(old_plan.interval_unit, old_plan.interval_count)
    new_length = interval_days(new_plan.interval_unit, new_plan.interval_count)
    if new_length != old_length:
        return UPGRADE if new_length > old_length else DOWNGRADE
    if new_plan.amount == old_amount:
        return SWITCH
    return UPGRADE if new_plan.amount > old_amount else DOWNGRADE
