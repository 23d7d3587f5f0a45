"""Dates as a customer reads them, written out here rather than by the code under test: the day a moment
falls on in Moscow (every customer's zone unless they chose another), in English ("December 18, 2026").
A test computing the day in UTC fails every evening after 21:00 UTC, when Moscow is already tomorrow."""
from zoneinfo import ZoneInfo

MOSCOW = ZoneInfo("Europe/Moscow")


def in_moscow(moment):
    return moment.astimezone(MOSCOW)


def english_day(moment, zone=MOSCOW) -> str:
    local = moment.astimezone(zone)
    return f"{local:%B} {local.day}, {local.year}"
