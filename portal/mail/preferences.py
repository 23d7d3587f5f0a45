"""What a customer gets by mail: reminders they may turn off; receipts, failed payments, changes of their
subscription and security mails always; nothing billing at all when the platform mails them itself."""
import logging

from portal.machines import lock
from portal.models import User

log = logging.getLogger(__name__)


def set_reminders(user: User, on: bool, *, actor: str) -> None:
    """Reminders (trial ending, renewal upcoming, card expiring) on or off, in the caller's transaction."""
    user = lock(User, user.id)
    if user.reminder_mails != on:
        user.reminder_mails = on
        log.info("mail: reminders %s for user %s by %s", "on" if on else "off", user.id, actor)
