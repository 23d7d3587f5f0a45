"""What a customer gets by mail: reminders they may turn off; receipts, failed payments, changes of their
subscription and security mails always; nothing billing at all when the platform mails them itself."""
import logging

from portal.billing.errors import InvalidRequest
from portal.machines import lock
from portal.mail.content import valid_time_zone
from portal.models import User

log = logging.getLogger(__name__)


def set_reminders(user: User, on: bool, *, actor: str) -> None:
    """Reminders (trial ending, renewal upcoming, card expiring) on or off, in the caller's transaction."""
    user = lock(User, user.id)
    if user.reminder_mails != on:
        user.reminder_mails = on
        log.info("mail: reminders %s for user %s by %s", "on" if on else "off", user.id, actor)


def set_platform_settings(user: User, *, billing_mail: bool | None = None, locale: str | None = None,
                          time_zone: str | None = None) -> None:
    """What the platform says about a customer's mail (bus customer.upsert), in the caller's transaction."""
    if time_zone is not None and not valid_time_zone(time_zone):
        raise InvalidRequest(f"time_zone {time_zone!r} is not an IANA time zone (like Europe/Moscow)")
    if billing_mail is not None:
        user.billing_mail = billing_mail
    if locale is not None:
        user.locale = locale
    if time_zone is not None:
        user.time_zone = time_zone
