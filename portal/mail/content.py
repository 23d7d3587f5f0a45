"""What a billing mail says, in the reader's words: money in the invoice's currency, dates in the
customer's time zone, and the parts every billing mail is made of (one text and one HTML template)."""
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_datetime

from portal.money import format_money
from portal.templating import LONG_DATE

# The seller's own zone: customers of a Russian cinema who never said otherwise live on Moscow time.
DEFAULT_TIME_ZONE = "Europe/Moscow"


def time_zone(user) -> ZoneInfo:
    try:
        return ZoneInfo(user.time_zone or DEFAULT_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIME_ZONE)


def valid_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Reader:
    """Whom a mail is for: their language and zone decide how every amount and date reads."""

    locale: str
    zone: ZoneInfo

    def money(self, amount: int, currency: str) -> str:
        return format_money(amount, currency, self.locale)

    def plan(self, plan) -> str:
        return plan.name_in(self.locale)

    def date(self, moment) -> str:
        return format_date(moment.astimezone(self.zone), LONG_DATE[self.locale], locale=self.locale)

    def moment(self, moment) -> str:
        """A date with its time and zone: when a retry happens, to the minute."""
        local = moment.astimezone(self.zone)
        return f"{self.date(moment)}, {format_datetime(local, 'HH:mm', locale=self.locale)} " \
               f"({format_datetime(local, 'zzzz', tzinfo=self.zone, locale=self.locale)})"


@dataclass
class Letter:
    """A billing mail's body: paragraphs, then facts (label, value), then one button, then notes."""

    paragraphs: list[str]
    facts: list[tuple[str, str]] = field(default_factory=list)
    action: tuple[str, str] | None = None  # (label, absolute link)
    notes: list[str] = field(default_factory=list)
