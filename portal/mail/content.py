"""What a billing mail says, in the reader's words: money in the invoice's currency, dates in the
customer's time zone, and the parts every billing mail is made of (one text and one HTML template)."""
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from portal.dates import MOSCOW, date_text, moment_text
from portal.money import format_money

# The seller's own zone: customers of a Russian cinema who never said otherwise live on Moscow time.
DEFAULT_TIME_ZONE = MOSCOW


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
        return date_text(moment, self.locale, self.zone)

    def moment(self, moment) -> str:
        """A date with its time and zone, as the pages show it: when a retry happens, to the minute."""
        return moment_text(moment, self.locale, self.zone)


@dataclass
class Letter:
    """A billing mail's body: paragraphs, then facts (label, value), then one button, then notes."""

    paragraphs: list[str]
    facts: list[tuple[str, str]] = field(default_factory=list)
    action: tuple[str, str] | None = None  # (label, absolute link)
    notes: list[str] = field(default_factory=list)
