"""How a date and a moment read: one style per language on every page, document and mail.

A date: "7 декабря 2026", "December 7, 2026". A moment adds the time, to the minute (to the second where
staff need it), and names the zone it is counted in: "7 декабря 2026, 00:53 (мск)", "December 7, 2026,
07:53 (GMT+10:00)". Moscow, the seller's zone and the default, is named in words; any other by its offset."""
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from flask_babel import gettext

# Babel's long Russian date ends in "г.", which doubles the full stop of a sentence.
LONG_DATE = {"ru": "d MMMM y", "en": "MMMM d, y"}
# The same without the year, where the year goes without saying (the days of a chart's axis).
DAY_OF_YEAR = {"ru": "d MMMM", "en": "MMMM d"}
MOSCOW = "Europe/Moscow"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def date_text(value: date | datetime, locale: str, zone: ZoneInfo) -> str:
    """The day a moment falls on in the reader's zone (a date stays the day it is)."""
    if isinstance(value, datetime):
        value = _aware(value).astimezone(zone)
    return format_date(value, LONG_DATE.get(locale, LONG_DATE["en"]), locale=locale)


def day_text(value: date, locale: str) -> str:
    """A day of this year as the long style writes it, without the year: "7 декабря", "December 7"."""
    return format_date(value, DAY_OF_YEAR.get(locale, DAY_OF_YEAR["en"]), locale=locale)


def zone_name(zone: ZoneInfo, moment: datetime, locale: str) -> str:
    if zone.key == MOSCOW:
        return gettext("Moscow time")
    return format_datetime(moment, "ZZZZ", tzinfo=zone, locale=locale)


def moment_text(value: datetime, locale: str, zone: ZoneInfo, seconds: bool = False) -> str:
    local = _aware(value).astimezone(zone)
    clock = format_datetime(local, "HH:mm:ss" if seconds else "HH:mm", tzinfo=zone, locale=locale)
    return f"{date_text(local, locale, zone)}, {clock} ({zone_name(zone, local, locale)})"
