"""Periodic ticks: each finds due work and enqueues one job per piece of it."""
from datetime import timedelta

from workers import job

SWEEP_AFTER = timedelta(minutes=2)


@job
def renewals() -> int:
    from portal.billing.renewals import renewals_due

    return renewals_due()


@job
def dunning() -> int:
    from portal.billing.renewals import dunning_due

    return dunning_due()


@job
def checkout_expiry() -> int:
    from portal.billing.renewals import checkouts_expired

    return checkouts_expired()


@job
def pause_ends() -> int:
    from portal.billing.pauses import pauses_ending

    return pauses_ending()


@job
def reconciliation() -> int:
    from portal.billing.renewals import reconciliation_due

    return reconciliation_due()


@job
def inbox_sweeper() -> int:
    from portal import clock
    from portal.billing.notifications import sweep

    return sweep(clock.now() - SWEEP_AFTER)


@job
def drain_recovery() -> bool:
    from portal import clock
    from portal.billing.inbox import recover_stranded

    return recover_stranded(clock.now())


@job
def mail_sweeper() -> int:
    from portal.mail.delivery import sweep

    return sweep()


@job
def mail_events() -> int:
    from portal.mail.events import build_event_mails

    return build_event_mails(batches=1)


@job
def billing_reminders() -> int:
    from portal.mail.reminders import reminders_due

    return reminders_due()


@job
def receipt_polls() -> int:
    from portal.billing.fiscal import polls_due

    return polls_due()


# name, function, seconds between runs: the one schedule, read by `rq cron` and the embedded thread.
# drain-recovery is short: a Pay whose drain died with its worker is a paid customer left pending.
SCHEDULE = (
    ("renewals", renewals, 60),
    ("dunning", dunning, 300),
    ("checkout-expiry", checkout_expiry, 600),
    ("pause-ends", pause_ends, 60),
    ("reconciliation", reconciliation, 300),
    ("receipt-polls", receipt_polls, 60),
    ("inbox-sweeper", inbox_sweeper, 60),
    ("drain-recovery", drain_recovery, 15),
    ("mail-sweeper", mail_sweeper, 30),
    ("mail-events", mail_events, 60),
    ("billing-reminders", billing_reminders, 3600),
)
