"""The mail delivery job: one try of one stored mail (portal/mail/delivery.py)."""
from workers import job


@job
def deliver(mail_id: int) -> str:
    from portal.mail.delivery import deliver as deliver_mail

    return deliver_mail(mail_id)


@job
def build_event_mails() -> int:
    """One batch of events' mails; a full batch queues the next job (portal/mail/events.py)."""
    from portal.mail.events import build_event_mails as build

    return build(batches=1)


@job
def deliver_new() -> int:
    """The first tries of the mails stored since, over one connection (portal/mail/delivery.py)."""
    from portal.mail.delivery import deliver_new as deliver_batch

    return deliver_batch()
