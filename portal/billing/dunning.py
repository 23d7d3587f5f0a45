"""Dunning: after a renewal charge fails, retry on a schedule; give up when the schedule or the decline's
neutral category says so, and let the subscription expire."""
from datetime import timedelta

from flask import current_app

from portal import clock
from portal.machines import fire
from portal.models.subscription import RENEWABLE_STATUSES
from portal.providers import Decline

DEFAULT_RETRY_DAYS = (1, 3, 5)


def retry_days() -> tuple[int, ...]:
    return tuple(current_app.config.get("DUNNING_RETRY_DAYS", DEFAULT_RETRY_DAYS))


def record_failed_renewal(invoice, sub, decline: Decline | None, *, actor, cause):
    """Count the failed attempt, schedule the next one (or none), and move the subscription to past_due.
    The dunning window opens at the first failure and closes after the last scheduled retry. A decline
    whose category (or its provider's advice) rules out the same card succeeding later (expired, lost,
    stolen, fraud, do not honor) schedules no retry; nor does a charge that could not be made at all
    (`decline` None: no card, or the provider refused the request)."""
    reason_code = decline.code if decline is not None else None
    retry_allowed = decline is not None and decline.retry_allowed
    now = clock.now()
    schedule = retry_days()
    if invoice.dunning_ends_at is None:
        invoice.dunning_ends_at = now + timedelta(days=schedule[-1])
    started = invoice.dunning_ends_at - timedelta(days=schedule[-1])
    failures = (invoice.attempt_count or 0) + 1
    next_attempt = None
    if retry_allowed and failures <= len(schedule):
        next_attempt = started + timedelta(days=schedule[failures - 1])
    fire(invoice, "record_failed_attempt", actor=actor, cause=cause, reason_code=reason_code,
         next_attempt_at=next_attempt)
    if sub.status in RENEWABLE_STATUSES:
        fire(sub, "mark_past_due", actor=actor, cause=cause)
    if next_attempt is None and (failures > len(schedule)):
        give_up(invoice, sub, actor=actor, cause=f"{cause}; retries exhausted")


def give_up(invoice, sub, *, actor, cause):
    """No more retries: the invoice is voided and the subscription expires."""
    fire(invoice, "void_invoice", actor=actor, cause=cause)
    if sub.status == "past_due":
        fire(sub, "expire", actor=actor, cause=cause)


def is_exhausted(invoice, at) -> bool:
    return invoice.next_attempt_at is None and invoice.dunning_ends_at is not None and invoice.dunning_ends_at <= at
