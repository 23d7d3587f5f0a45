"""The proration rule (portal/billing/proration.py): direction, whole unused days, half-up rounding."""
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from portal.billing.proration import DOWNGRADE, SWITCH, UPGRADE, direction, half_up, quote, whole_days


def plan(amount, unit="month", count=1, currency="RUB"):
    return SimpleNamespace(amount=amount, interval_unit=unit, interval_count=count, currency=currency)


def at(day, hour=0, month=12, year=2026):
    return datetime(year, month, day, hour, tzinfo=UTC)


DECEMBER = {"period_start": at(1), "period_end": at(1, month=1, year=2027)}  # 31 days


@pytest.mark.parametrize("numerator,denominator,rounded", [
    (0, 3, 0), (10, 3, 3), (20, 3, 7), (5, 2, 3), (3, 2, 2), (1, 2, 1), (1, 3, 0), (300000, 31, 9677),
])
def test_half_up_rounds_halves_up_and_the_rest_to_the_nearest(numerator, denominator, rounded):
    assert half_up(numerator, denominator) == rounded


@pytest.mark.parametrize("start,end,days", [
    (at(16, 10), at(1, month=1, year=2027), 15),  # 15 days 14 hours: the day under way is used
    (at(1), at(1, month=1, year=2027), 31),
    (at(31, 12), at(1, month=1, year=2027), 0),
    (at(2), at(1), 0),  # after the end: nothing left
])
def test_unused_days_are_whole_days_to_the_period_end(start, end, days):
    assert whole_days(start, end) == days


@pytest.mark.parametrize("old,new,way", [
    (plan(29900), plan(49900), UPGRADE),
    (plan(49900), plan(29900), DOWNGRADE),
    (plan(29900), plan(29900), SWITCH),
    (plan(29900), plan(299000, "year"), UPGRADE),  # a longer interval starts at once, even if cheaper per day
    (plan(29900), plan(199000, "year"), UPGRADE),
    (plan(299000, "year"), plan(29900), DOWNGRADE),
    (plan(9900, "week"), plan(29900), UPGRADE),
    (plan(29900), plan(9900, "week"), DOWNGRADE),
    (plan(29900, "month", 3), plan(99000, "year"), UPGRADE),
])
def test_direction_of_a_change(old, new, way):
    assert direction(old, old.amount, new) == way


def test_direction_compares_with_the_price_the_customer_pays_not_the_list_price():
    # Sold at 29900 before staff raised Monthly to 34900: Premium at 32900 is still an upgrade for them.
    assert direction(plan(34900), 29900, plan(32900)) == UPGRADE


@pytest.mark.parametrize("changed_at,old,new,amount,unused,credit", [
    # The docstring's worked examples.
    (at(16, 10), 29900, 49900, 9677, 15, 0),
    (at(1), 29900, 49900, 20000, 31, 0),
    (at(31, 12), 29900, 49900, 0, 0, 0),
    (at(16, 10), 29900, 29900, 0, 15, 0),
])
def test_same_interval_upgrade_charges_the_difference_for_the_unused_days(changed_at, old, new, amount, unused,
                                                                          credit):
    q = quote(old_plan=plan(old), old_amount=old, new_plan=plan(new), at=changed_at, **DECEMBER)
    assert (q.amount, q.unused_days, q.period_days, q.credit) == (amount, unused, 31, credit)
    assert q.immediate and not q.new_period
    assert (q.period_start, q.period_end) == (DECEMBER["period_start"], DECEMBER["period_end"])


@pytest.mark.parametrize("changed_at,yearly,amount,credit", [
    (at(11, 9), 299000, 279710, 19290),  # 20 unused days of 31: credit 19290.32 -> 19290
    (at(1), 299000, 269100, 29900),  # nothing used: the whole month is credited
    (at(31, 23), 299000, 299000, 0),  # the last day: nothing to credit
    (at(1), 20000, 0, 29900),  # a credit above the new price is not paid out: nothing to charge
])
def test_monthly_to_yearly_charges_the_year_less_the_unused_credit_and_starts_a_new_period(changed_at, yearly,
                                                                                           amount, credit):
    q = quote(old_plan=plan(29900), old_amount=29900, new_plan=plan(yearly, "year"), at=changed_at, **DECEMBER)
    assert (q.direction, q.amount, q.credit) == (UPGRADE, amount, credit)
    assert q.new_period and (q.period_start, q.period_end) == (changed_at, changed_at.replace(year=2027))


def test_a_downgrade_charges_nothing_now_and_waits_for_the_period_end():
    q = quote(old_plan=plan(49900), old_amount=49900, new_plan=plan(29900), at=at(16, 10), **DECEMBER)
    assert (q.direction, q.amount, q.immediate, q.period_end) == (DOWNGRADE, 0, False, None)


def test_during_a_trial_every_change_is_immediate_and_free():
    for new in (plan(49900), plan(9900), plan(299000, "year")):
        q = quote(old_plan=plan(29900), old_amount=29900, new_plan=new, at=at(3), trialing=True, **DECEMBER)
        assert q.immediate and q.amount == 0 and not q.new_period
