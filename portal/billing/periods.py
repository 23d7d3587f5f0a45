"""Billing period arithmetic on calendar units, anchored: every period end is counted from the
subscription's anchor, so a month from 31 January is 28/29 February, and the next one 31 March again
(chaining from the previous end would drift to the 28th for good). A yearly plan anchored on 29 February
renews on 28 February and on 29 February again in leap years."""
import calendar
from datetime import datetime, timedelta


def add_interval(start: datetime, unit: str, count: int = 1) -> datetime:
    if unit == "day":
        return start + timedelta(days=count)
    if unit == "week":
        return start + timedelta(weeks=count)
    return _add_months(start, _months(unit, count))


def anchored_period_end(anchor: datetime | None, start: datetime, unit: str, count: int = 1) -> datetime:
    """The end of the period that starts at `start`: the first date after it that lies a whole number of
    intervals from `anchor` (on the anchor's day of month and time of day, clamped to the month's length).
    Without an anchor the period is one interval from `start`."""
    if anchor is None or anchor > start or unit in ("day", "week"):
        # Days and weeks have one length, so chaining them cannot drift.
        return add_interval(start, unit, count)
    step = _months(unit, count)
    elapsed = (start.year - anchor.year) * 12 + start.month - anchor.month
    periods = max(1, elapsed // step)
    end = _add_months(anchor, periods * step)
    while end <= start:
        periods += 1
        end = _add_months(anchor, periods * step)
    return end


def _months(unit: str, count: int) -> int:
    if unit not in ("month", "year"):
        raise ValueError(f"unknown billing interval unit {unit!r}")
    return count * (12 if unit == "year" else 1)


def _add_months(start: datetime, months: int) -> datetime:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)
