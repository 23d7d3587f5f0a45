"""Billing periods are counted from the subscription's anchor: month ends and leap years never make the
renewal day drift."""
from datetime import UTC, datetime

import pytest

from portal.billing.periods import add_interval, anchored_period_end


def at(year, month, day, hour=10, minute=30):
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def chain(anchor, unit, count, periods):
    """The period ends a subscription goes through, each period starting where the last one ended."""
    ends, start = [], anchor
    for _ in range(periods):
        start = anchored_period_end(anchor, start, unit, count)
        ends.append(start)
    return ends


@pytest.mark.parametrize("anchor, unit, count, expected", [
    # A monthly plan started on 31 January: the end of each month, back to the 31st when it has one.
    (at(2027, 1, 31), "month", 1,
     [at(2027, 2, 28), at(2027, 3, 31), at(2027, 4, 30), at(2027, 5, 31), at(2027, 6, 30)]),
    # In a leap year February has its 29th.
    (at(2028, 1, 31), "month", 1, [at(2028, 2, 29), at(2028, 3, 31), at(2028, 4, 30)]),
    # The 30th: only February is short.
    (at(2027, 1, 30), "month", 1, [at(2027, 2, 28), at(2027, 3, 30), at(2027, 4, 30)]),
    # An ordinary day never moves, across the new year too.
    (at(2026, 11, 15), "month", 1, [at(2026, 12, 15), at(2027, 1, 15), at(2027, 2, 15)]),
    # Quarterly from 31 August: 30 November, 28 February, 31 May.
    (at(2026, 8, 31), "month", 3, [at(2026, 11, 30), at(2027, 2, 28), at(2027, 5, 31)]),
    # Yearly from 29 February: 28 February in ordinary years, 29 February again in the next leap year.
    (at(2028, 2, 29), "year", 1, [at(2029, 2, 28), at(2030, 2, 28), at(2031, 2, 28), at(2032, 2, 29)]),
    (at(2026, 12, 31), "year", 1, [at(2027, 12, 31), at(2028, 12, 31)]),
    # Days and weeks are all the same length.
    (at(2027, 2, 27), "day", 2, [at(2027, 3, 1), at(2027, 3, 3)]),
    (at(2027, 12, 30), "week", 1, [at(2028, 1, 6), at(2028, 1, 13)]),
])
def test_successive_periods_end_on_the_anchor_day(anchor, unit, count, expected):
    assert chain(anchor, unit, count, len(expected)) == expected


def test_a_period_starting_late_still_ends_on_the_next_anchor_date():
    # A past-due renewal paid days late buys the rest of its period, not a month from the payment.
    anchor = at(2027, 1, 31)
    assert anchored_period_end(anchor, at(2027, 3, 3), "month") == at(2027, 3, 31)
    # A period starting exactly on an anchor date ends on the next one.
    assert anchored_period_end(anchor, at(2027, 3, 31), "month") == at(2027, 4, 30)
    # Years later the day is still the anchor's.
    assert anchored_period_end(anchor, at(2031, 4, 30), "month") == at(2031, 5, 31)


def test_without_an_anchor_a_period_is_one_interval_from_its_start():
    assert anchored_period_end(None, at(2027, 1, 31), "month") == at(2027, 2, 28)
    assert add_interval(at(2027, 2, 28), "month") == at(2027, 3, 28)


def test_an_unknown_interval_unit_is_refused():
    with pytest.raises(ValueError, match="fortnight"):
        anchored_period_end(at(2027, 1, 1), at(2027, 1, 1), "fortnight")
    with pytest.raises(ValueError, match="fortnight"):
        add_interval(at(2027, 1, 1), "fortnight")
