"""Cancel: at period end (auto-renew off, undoable until then) or now with a prorated refund."""
from sqlalchemy import select

from portal import clock
from portal.billing import refund_policy
from portal.billing.errors import InvalidRequest, NotAllowed, NotFound
from portal.billing.refunds import request_refund
from portal.extensions import db
from portal.machines import atomic, fire, lock
from portal.models import Invoice, Subscription, User
from portal.queue import enqueue

LIVE = ("pending", "trialing", "active", "past_due")
WHEN = ("period_end", "now")


def _live_subscription(subscription_id: int) -> Subscription:
    sub = db.session.get(Subscription, subscription_id)
    if sub is None:
        raise NotFound(f"subscription {subscription_id} does not exist")
    if sub.status not in LIVE:
        raise NotAllowed(f"subscription {subscription_id} is already {sub.status}")
    return sub


def request_cancel(subscription_id: int, when: str, *, actor: str, cause: str) -> None:
    """Validate now, cancel in a job."""
    if when not in WHEN:
        raise InvalidRequest(f"when must be one of {', '.join(WHEN)}, not {when!r}")
    sub = _live_subscription(subscription_id)
    if when == "period_end" and sub.status == "pending":
        raise NotAllowed("a subscription that was never paid has no period to end; cancel it now")
    enqueue("workers.subscriptions.cancel_subscription", subscription_id, when, actor=actor, cause=cause,
            job_id=f"cancel-{subscription_id}-{when}")


def request_resume(subscription_id: int, *, actor: str, cause: str) -> None:
    sub = _live_subscription(subscription_id)
    if not sub.cancel_at_period_end:
        raise NotAllowed(f"subscription {subscription_id} renews automatically already")
    enqueue("workers.subscriptions.resume_subscription", subscription_id, actor=actor, cause=cause)


def cancel_customer_subscriptions(customer_external_id: str, when: str, *, actor: str, cause: str) -> int:
    customer = db.session.scalar(select(User).where(User.external_id == customer_external_id))
    if customer is None:
        raise NotFound(f"no customer with external id {customer_external_id!r}")
    ids = db.session.scalars(select(Subscription.id).where(
        Subscription.customer_id == customer.id, Subscription.status.in_(LIVE))).all()
    for sub_id in ids:
        request_cancel(sub_id, "now" if db.session.get(Subscription, sub_id).status == "pending" else when,
                       actor=actor, cause=cause)
    return len(ids)


def current_paid_invoice(sub: Subscription) -> Invoice | None:
    """The paid invoice covering the subscription's current period, if any."""
    return db.session.scalar(select(Invoice).where(
        Invoice.subscription_id == sub.id, Invoice.status == "paid",
        Invoice.period_end == sub.current_period_end).order_by(Invoice.id.desc()).limit(1))


def refund_if_cancelled_now(sub: Subscription) -> int:
    """Shown to the customer before they confirm, and used when they do."""
    if sub.status not in ("active", "past_due"):
        return 0
    return refund_policy.refund_for_cancel_now(current_paid_invoice(sub), clock.now())


def cancel(subscription_id: int, when: str, *, actor: str, cause: str, refund: bool = True) -> None:
    """Job body. Safe to run twice: a second run finds the work done and returns."""
    with atomic():
        refund_ids = cancel_locked(lock(Subscription, subscription_id), when, actor=actor, cause=cause,
                                   refund=refund)
    for refund_id in refund_ids:
        enqueue("workers.payments.send_refund", refund_id, job_id=f"refund-{refund_id}")


def cancel_locked(sub: Subscription, when: str, *, actor: str, cause: str, refund: bool = True) -> list[int]:
    """Cancel a locked subscription inside the caller's transaction; returns refunds to send."""
    if sub.status not in LIVE:
        return []
    if when == "period_end":
        if not sub.cancel_at_period_end:
            fire(sub, "schedule_cancel", actor=actor, cause=cause)
        return []
    amount = refund_if_cancelled_now(sub) if refund else 0
    invoice = current_paid_invoice(sub)
    fire(sub, "cancel", actor=actor, cause=cause)
    for open_invoice in db.session.scalars(select(Invoice).where(
            Invoice.subscription_id == sub.id, Invoice.status == "open")).all():
        fire(lock(Invoice, open_invoice.id), "void_invoice", actor=actor, cause=cause)
    paid_by = [p for p in invoice.payments if p.status == "completed" and p.settles_invoice] if amount > 0 else []
    payment = paid_by[0] if paid_by else None
    if payment is None:
        return []
    return [request_refund(payment, amount, reason="canceled now: unused days", requested_by=actor).id]


def resume(subscription_id: int, *, actor: str, cause: str) -> None:
    with atomic():
        sub = lock(Subscription, subscription_id)
        if sub.status in ("trialing", "active", "past_due") and sub.cancel_at_period_end:
            fire(sub, "resume", actor=actor, cause=cause)
