"""Period ends and plan-change prices pinned to calendar dates and amounts worked out by hand
(portal/billing/periods.py, portal/billing/proration.py): month ends, leap years, yearly plans, days and weeks."""
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from portal.billing.periods import add_interval, anchored_period_end
from portal.billing.proration import DOWNGRADE, SWITCH, UPGRADE, direction, quote, whole_days


def at(year, month, day, hour=10, minute=30):
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize("start,unit,count,end", [
    (at(2027, 2, 27), "day", 1, at(2027, 2, 28)),
    (at(2028, 2, 28), "day", 1, at(2028, 2, 29)),  # a leap day is a day
    (at(2027, 12, 31), "day", 3, at(2028, 1, 3)),
    (at(2027, 2, 25), "week", 1, at(2027, 3, 4)),
    (at(2028, 2, 25), "week", 2, at(2028, 3, 10)),
    (at(2027, 1, 31), "month", 1, at(2027, 2, 28)),
    (at(2028, 1, 31), "month", 1, at(2028, 2, 29)),
    (at(2027, 11, 30), "month", 1, at(2027, 12, 30)),
    (at(2027, 12, 15), "month", 1, at(2028, 1, 15)),
    (at(2027, 10, 31), "month", 2, at(2027, 12, 31)),
    (at(2027, 11, 30), "month", 3, at(2028, 2, 29)),
    (at(2027, 1, 15), "month", 11, at(2027, 12, 15)),
    (at(2027, 1, 15), "month", 12, at(2028, 1, 15)),
    (at(2027, 1, 15), "month", 13, at(2028, 2, 15)),
    (at(2027, 3, 1), "year", 1, at(2028, 3, 1)),
    (at(2028, 2, 29), "year", 1, at(2029, 2, 28)),
    (at(2027, 6, 30), "year", 2, at(2029, 6, 30)),
])
def test_one_interval_from_a_start_lands_on_this_calendar_date(start, unit, count, end):
    assert add_interval(start, unit, count) == end


@pytest.mark.parametrize("anchor,start,unit,count,end", [
    # Days and weeks count from the start whatever the anchor: they have one length.
    (at(2027, 1, 31), at(2027, 2, 27), "day", 3, at(2027, 3, 2)),
    (at(2027, 1, 31), at(2027, 2, 27), "week", 1, at(2027, 3, 6)),
    # An anchor after the start (not yet reached) does not count.
    (at(2027, 3, 31), at(2027, 1, 31), "month", 1, at(2027, 2, 28)),
    # Periods starting on an anchor date end on the next one, also years later and across year ends.
    (at(2026, 11, 15), at(2027, 1, 15), "month", 1, at(2027, 2, 15)),
    (at(2026, 11, 15), at(2026, 11, 15), "month", 1, at(2026, 12, 15)),
    (at(2026, 12, 31), at(2027, 11, 30), "month", 1, at(2027, 12, 31)),
    # Paid late, before the anchor day of the month: the period ends on this month's anchor day.
    (at(2026, 11, 15), at(2027, 1, 10), "month", 1, at(2027, 1, 15)),
    (at(2026, 11, 15), at(2028, 3, 3), "month", 1, at(2028, 3, 15)),
    # Paid late, after the anchor day: the next month's.
    (at(2026, 11, 15), at(2027, 1, 20), "month", 1, at(2027, 2, 15)),
    # Quarterly and yearly: whole intervals from the anchor.
    (at(2026, 8, 31), at(2026, 11, 30), "month", 3, at(2027, 2, 28)),
    (at(2026, 8, 31), at(2027, 1, 5), "month", 3, at(2027, 2, 28)),
    (at(2026, 8, 31), at(2027, 3, 1), "month", 3, at(2027, 5, 31)),
    (at(2027, 5, 20), at(2027, 6, 1), "year", 1, at(2028, 5, 20)),
    (at(2027, 5, 20), at(2028, 5, 20), "year", 1, at(2029, 5, 20)),
    (at(2027, 5, 20), at(2029, 4, 1), "year", 1, at(2029, 5, 20)),
    (at(2028, 2, 29), at(2031, 2, 28), "year", 1, at(2032, 2, 29)),
    (at(2027, 3, 10), at(2027, 9, 10), "month", 6, at(2028, 3, 10)),
    # The anchor's time of day is kept.
    (at(2027, 1, 31, 23, 59), at(2027, 2, 28, 23, 59), "month", 1, at(2027, 3, 31, 23, 59)),
])
def test_an_anchored_period_ends_on_this_calendar_date(anchor, start, unit, count, end):
    assert anchored_period_end(anchor, start, unit, count) == end


def test_a_year_of_monthly_periods_from_31_january_of_a_leap_year():
    ends, start = [], at(2028, 1, 31)
    for _ in range(13):
        start = anchored_period_end(at(2028, 1, 31), start, "month")
        ends.append((start.month, start.day))
    assert ends == [(2, 29), (3, 31), (4, 30), (5, 31), (6, 30), (7, 31), (8, 31), (9, 30), (10, 31), (11, 30),
                    (12, 31), (1, 31), (2, 28)]
    assert start.year == 2029


def plan(amount, unit="month", count=1, currency="RUB"):
    return SimpleNamespace(amount=amount, interval_unit=unit, interval_count=count, currency=currency)


@pytest.mark.parametrize("old,new,way", [
    # Intervals are ordered by length: 7 days are a week, 30 days a month, 365 days a year; 4 weeks are
    # shorter than a month and 52 weeks shorter than a year.
    (plan(9900, "day", 7), plan(9900, "week"), SWITCH),
    (plan(9900, "day", 7), plan(12900, "week"), UPGRADE),
    (plan(29900, "day", 30), plan(29900, "month"), SWITCH),
    (plan(29900, "day", 30), plan(19900, "month"), DOWNGRADE),
    (plan(299000, "day", 365), plan(299000, "year"), SWITCH),
    (plan(9900, "week", 4), plan(9900, "month"), UPGRADE),
    (plan(9900, "month"), plan(9900, "week", 4), DOWNGRADE),
    (plan(290000, "week", 52), plan(290000, "year"), UPGRADE),
    (plan(500, "day"), plan(500, "day", 2), UPGRADE),
    (plan(500, "day", 2), plan(500, "day"), DOWNGRADE),
    (plan(29900), plan(29901), UPGRADE),
    (plan(29901), plan(29900), DOWNGRADE),
])
def test_the_direction_of_a_change_follows_the_interval_then_the_price(old, new, way):
    assert direction(old, old.amount, new) == way


DECEMBER = {"period_start": at(2026, 12, 1, 0, 0), "period_end": at(2027, 1, 1, 0, 0)}  # 31 days


def test_during_a_trial_every_change_is_free_and_keeps_the_trial_period():
    for new, way in ((plan(49900), UPGRADE), (plan(9900), SWITCH), (plan(299000, "year"), UPGRADE)):
        q = quote(old_plan=plan(29900), old_amount=29900, new_plan=new, at=at(2026, 12, 11, 9, 0), trialing=True,
                  **DECEMBER)
        assert (q.direction, q.amount, q.credit, q.unused_days, q.period_days) == (way, 0, 0, 20, 31)
        assert (q.period_start, q.period_end, q.new_period, q.immediate) == (
            DECEMBER["period_start"], DECEMBER["period_end"], False, True)


def test_a_downgrade_waits_costs_nothing_and_keeps_no_period():
    q = quote(old_plan=plan(49900), old_amount=49900, new_plan=plan(29900), at=at(2026, 12, 11, 9, 0), **DECEMBER)
    assert (q.direction, q.amount, q.credit, q.unused_days, q.period_days) == (DOWNGRADE, 0, 0, 20, 31)
    assert (q.period_start, q.period_end, q.new_period, q.immediate) == (None, None, False, False)


@pytest.mark.parametrize("changed_at,amount,unused", [
    (at(2026, 12, 11, 9, 0), 6452, 20),  # 10000 * 20 / 31 = 6451.6 -> 6452
    (at(2026, 12, 30, 0, 0), 645, 2),  # 10000 * 2 / 31 = 645.2 -> 645
    (at(2026, 12, 31, 0, 0), 323, 1),  # 10000 / 31 = 322.58 -> 323
    (at(2026, 11, 20, 0, 0), 10000, 31),  # before the period began: never more than the whole period
    (at(2027, 1, 2, 0, 0), 0, 0),  # after its end: nothing left
])
def test_a_same_interval_upgrade_charges_the_price_difference_for_the_unused_days(changed_at, amount, unused):
    q = quote(old_plan=plan(29900), old_amount=29900, new_plan=plan(39900), at=changed_at, **DECEMBER)
    assert (q.direction, q.amount, q.unused_days, q.period_days, q.credit, q.new_period) == (
        UPGRADE, amount, unused, 31, 0, False)


def test_a_weekly_to_monthly_change_credits_the_unused_days_of_the_week_and_starts_a_month():
    week = {"period_start": at(2027, 2, 22, 0, 0), "period_end": at(2027, 3, 1, 0, 0)}  # 7 days
    q = quote(old_plan=plan(7000, "week"), old_amount=7000, new_plan=plan(29900), at=at(2027, 2, 25, 12, 0), **week)
    # 3 unused days (3 days 12 hours left): 7000 * 3 / 7 = 3000 credited; 29900 - 3000 = 26900.
    assert (q.direction, q.amount, q.credit, q.unused_days, q.period_days) == (UPGRADE, 26900, 3000, 3, 7)
    assert (q.period_start, q.period_end, q.new_period) == (at(2027, 2, 25, 12, 0), at(2027, 3, 25, 12, 0), True)


def test_a_period_of_less_than_half_a_day_counts_as_one_day():
    short = {"period_start": at(2027, 3, 1, 0, 0), "period_end": at(2027, 3, 1, 6, 0)}
    q = quote(old_plan=plan(1000, "day"), old_amount=1000, new_plan=plan(2000, "day"), at=at(2027, 3, 1, 0, 0),
              **short)
    assert (q.period_days, q.unused_days, q.amount) == (1, 0, 0)


@pytest.mark.parametrize("start,end,days", [
    (at(2027, 2, 1, 0, 0), at(2027, 3, 1, 0, 0), 28),
    (at(2028, 2, 1, 0, 0), at(2028, 3, 1, 0, 0), 29),
    (at(2027, 2, 28, 0, 1), at(2027, 3, 1, 0, 0), 0),  # 23 h 59 min: not a whole day
    (at(2027, 2, 27, 23, 59), at(2027, 3, 1, 0, 0), 1),
])
def test_whole_days_between_two_moments(start, end, days):
    assert whole_days(start, end) == days


def test_a_change_to_a_plan_of_the_same_price_and_interval_costs_nothing_even_with_the_whole_period_left():
    q = quote(old_plan=plan(29900), old_amount=29900, new_plan=plan(29900), at=at(2026, 12, 1, 0, 0), **DECEMBER)
    assert (q.direction, q.amount, q.unused_days, q.immediate) == (SWITCH, 0, 31, True)
