"""The time zone a person's pages and mails count in: their own choice on the account page (staff included, whose
admin pages follow it), else what the platform said (customer.upsert), else Moscow's. The list offered is the
zones of the cinema's audience; any IANA zone is kept when the platform sets it."""
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import get_timezone_location

from portal.billing.errors import InvalidRequest
from portal.machines import lock
from portal.mail.content import valid_time_zone
from portal.models import User

log = logging.getLogger(__name__)

OFFERED = ("Europe/Kaliningrad", "Europe/Moscow", "Europe/Samara", "Asia/Yekaterinburg", "Asia/Omsk",
           "Asia/Novosibirsk", "Asia/Krasnoyarsk", "Asia/Irkutsk", "Asia/Yakutsk", "Asia/Vladivostok",
           "Asia/Magadan", "Asia/Kamchatka", "Europe/Minsk", "Asia/Almaty", "Asia/Tashkent", "Asia/Tbilisi",
           "Asia/Yerevan", "Asia/Baku", "Europe/Istanbul", "Europe/Berlin", "Europe/London", "UTC")


def choices(current: str | None, locale: str) -> list[tuple[str, str]]:
    """(zone, its name in the page's language) for the form, the person's own zone among them."""
    zones = list(OFFERED)
    if current and current not in zones and valid_time_zone(current):
        zones.insert(0, current)
    return [(zone, _name(zone, locale)) for zone in zones]


def _name(zone: str, locale: str) -> str:
    """"Владивосток (GMT+10:00)": the city in the page's language and the offset of today."""
    offset = datetime.now(ZoneInfo(zone)).strftime("%z")
    city = "UTC" if zone == "UTC" else get_timezone_location(zone, locale=locale, return_city=True)
    return f"{city} (GMT{offset[:3]}:{offset[3:]})"


def set_time_zone(user: User, zone: str, *, actor: str) -> None:
    """In the caller's transaction; an unknown zone is refused with its name."""
    zone = (zone or "").strip()
    if not valid_time_zone(zone):
        raise InvalidRequest(f"{zone!r} is not a time zone this site knows (like Europe/Moscow)")
    user = lock(User, user.id)
    if user.time_zone != zone:
        user.time_zone = zone
        log.info("time zone of user %s set to %s by %s", user.id, zone, actor)
