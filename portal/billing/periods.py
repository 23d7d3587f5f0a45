"""Billing period arithmetic on calendar units (a month from Jan 31 is Feb 28/29)."""
import calendar
from datetime import datetime, timedelta


def add_interval(start: datetime, unit: str, count: int = 1) -> datetime:
    if unit == "day":
        return start + timedelta(days=count)
    if unit == "week":
        return start + timedelta(weeks=count)
    months = count * (12 if unit == "year" else 1)
    if unit not in ("month", "year"):
        raise ValueError(f"unknown billing interval unit {unit!r}")
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)

