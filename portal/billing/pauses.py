"""Pause and resume: an active subscription can be paused for one to three whole months from the end of
its paid period. No charge and no access while paused; it resumes when the pause ends, or earlier when the
customer asks, with a new period (and a new billing anchor) from that moment, charged on the saved card
like a renewal. A pause asked for can be taken back until it starts. (Stripe pauses collection; Lago and
Kill Bill pause billing from a date: this is the latter, at the period boundary, so nothing is prorated.)"""
from sqlalchemy import select

from portal import clock
from portal.billing.errors import N_, InvalidRequest, Message, NotAllowed, NotFound, Status
from portal.billing.periods import add_interval
from portal.extensions import db
from portal.machines import atomic, fire, lock
from portal.models import Subscription
from portal.ops import test_clock
from portal.queue import enqueue, enqueue_after_commit

PAUSE_MONTHS = (1, 2, 3)


def _subscription(subscription_id: int) -> Subscription:
    sub = db.session.get(Subscription, subscription_id)
    if sub is None:
        raise NotFound(f"subscription {subscription_id} does not exist")
    return sub


def pause_refusal(sub: Subscription, months) -> Message | None:
    """Why this subscription cannot be paused for `months` now (English, translated where shown); None when it can."""
    if months not in PAUSE_MONTHS:
        return N_("a pause lasts %(allowed)s months, not %(asked)s", allowed=", ".join(map(str, PAUSE_MONTHS)),
                  asked=repr(months))
    if sub.status != "active":
        return N_("only an active subscription can be paused; subscription %(id)s is %(status)s", id=sub.id,
                  status=Status("subscription", sub.status))
    if sub.cancel_at_period_end:
        return N_("subscription %(id)s ends at the period end; turn auto-renew on to pause it instead", id=sub.id)
    if sub.pause_starts_at is not None:
        return N_("subscription %(id)s already pauses on %(date)s", id=sub.id,
                  date=sub.pause_starts_at.date().isoformat())
    return None


def request_pause(subscription_id: int, months, *, actor: str, cause: str) -> None:
    """Validate now, schedule the pause in a job."""
    sub = _subscription(subscription_id)
    refusal = pause_refusal(sub, months)
    if refusal is not None:
        raise (InvalidRequest if months not in PAUSE_MONTHS else NotAllowed)(refusal)
    enqueue("workers.subscriptions.schedule_pause", subscription_id, months, actor=actor, cause=cause,
            job_id=f"pause-{subscription_id}-{months}")


def schedule_pause(subscription_id: int, months: int, *, actor: str, cause: str) -> None:
    """Job body; a second run finds the pause scheduled and does nothing."""
    with atomic():
        sub = lock(Subscription, subscription_id)
        if pause_refusal(sub, months) is None:
            fire(sub, "schedule_pause", actor=actor, cause=cause,
                 resumes_at=add_interval(sub.current_period_end, "month", months))


def request_resume(subscription_id: int, *, actor: str, cause: str) -> None:
    """Resume a paused subscription now, or take back a pause that has not started yet; in a job."""
    sub = _subscription(subscription_id)
    if sub.status != "paused" and not (sub.status == "active" and sub.pause_starts_at is not None):
        raise NotAllowed(N_("subscription %(id)s is %(status)s and no pause is scheduled", id=subscription_id,
                            status=Status("subscription", sub.status)))
    enqueue("workers.subscriptions.resume_paused_subscription", subscription_id, actor=actor, cause=cause,
            job_id=f"resume-{subscription_id}-{sub.status}")


def resume_or_unschedule(subscription_id: int, *, actor: str, cause: str) -> None:
    """Job body: a paused subscription resumes (and its first new period is charged right after); a pause
    not started yet is taken back. Safe to run twice."""
    with atomic():
        sub = lock(Subscription, subscription_id)
        if sub.status == "paused":
            fire(sub, "resume", actor=actor, cause=cause)
            enqueue_after_commit(db.session(), "workers.payments.renew_subscriptions", [sub.id],
                                 job_id=f"renew-after-resume-{sub.id}-{sub.current_period_end:%Y%m%d%H%M%S}")
        elif sub.status == "active" and sub.pause_starts_at is not None:
            fire(sub, "unschedule_pause", actor=actor, cause=cause)


def pause_locked(sub: Subscription, *, actor: str, cause: str) -> bool:
    """At the period end, in the renewal's transaction: a subscription with a pause due is paused instead of
    renewed. Returns whether it was."""
    if sub.pause_starts_at is None or sub.pause_starts_at > clock.now():
        return False
    fire(sub, "pause", actor=actor, cause=cause)
    return True


def pauses_ending(now=None) -> int:
    """Cron: paused subscriptions whose pause is over resume."""
    now = now or clock.now()
    ids = db.session.scalars(select(Subscription.id).where(
        Subscription.status == "paused",
        test_clock.reached(Subscription.resumes_at, Subscription.customer_id, now))).all()
    for sub_id in ids:
        enqueue("workers.subscriptions.resume_paused_subscription", sub_id, actor="job:pause-end",
                cause="the pause the customer asked for ended", job_id=f"resume-{sub_id}-paused")
    return len(ids)
