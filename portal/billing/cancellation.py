"""Cancel: at period end (auto-renew off, undoable until then) or now with a prorated refund."""
from sqlalchemy import select

from portal import clock
from portal.billing import refund_policy
from portal.billing.errors import N_, InvalidRequest, NotAllowed, NotFound, Status
from portal.billing.refunds import request_refund
from portal.extensions import db
from portal.machines import atomic, fire, lock
from portal.models import Invoice, Subscription, User
from portal.models.subscription import ENTITLED_STATUSES, LIVE_STATUSES
from portal.queue import enqueue

LIVE = ("pending", *LIVE_STATUSES)
WHEN = ("period_end", "now")


def _live_subscription(subscription_id: int) -> Subscription:
    sub = db.session.get(Subscription, subscription_id)
    if sub is None:
        raise NotFound(f"subscription {subscription_id} does not exist")
    if sub.status not in LIVE:
        raise NotAllowed(N_("subscription %(id)s is already %(status)s", id=subscription_id,
                            status=Status("subscription", sub.status)))
    return sub


def request_cancel(subscription_id: int, when: str, *, actor: str, cause: str) -> None:
    """Validate now, cancel in a job."""
    if when not in WHEN:
        raise InvalidRequest(N_("when must be one of %(allowed)s, not %(asked)s", allowed=", ".join(WHEN),
                                asked=repr(when)))
    sub = _live_subscription(subscription_id)
    if when == "period_end" and sub.status in ("pending", "paused"):
        raise NotAllowed(N_("a %(status)s subscription has no paid period to end; cancel it now",
                            status=Status("subscription", sub.status)))
    enqueue("workers.subscriptions.cancel_subscription", subscription_id, when, actor=actor, cause=cause,
            job_id=f"cancel-{subscription_id}-{when}")


def request_undo_cancel(subscription_id: int, *, actor: str, cause: str) -> None:
    sub = _live_subscription(subscription_id)
    if not sub.cancel_at_period_end:
        raise NotAllowed(N_("subscription %(id)s renews automatically already", id=subscription_id))
    enqueue("workers.subscriptions.undo_cancel_subscription", subscription_id, actor=actor, cause=cause)


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


def current_paid_invoices(sub: Subscription) -> list[Invoice]:
    """The paid invoices covering the subscription's current period: the period's own and an upgrade's
    proration paid during it (which covers the rest of the period, or the whole new one)."""
    return list(db.session.scalars(select(Invoice).where(
        Invoice.subscription_id == sub.id, Invoice.status == "paid",
        Invoice.period_end == sub.current_period_end).order_by(Invoice.id)))


def _refunds_due(sub: Subscription) -> list[tuple[Invoice, int]]:
    if sub.status not in ("active", "past_due"):
        return []
    now = clock.now()
    return [(invoice, refund_policy.refund_for_cancel_now(invoice, now)) for invoice in current_paid_invoices(sub)]


def refund_if_cancelled_now(sub: Subscription) -> int:
    """Shown to the customer before they confirm, and used when they do."""
    return sum(amount for _, amount in _refunds_due(sub))


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
    due = _refunds_due(sub) if refund else []
    fire(sub, "cancel", actor=actor, cause=cause)
    for open_invoice in db.session.scalars(select(Invoice).where(
            Invoice.subscription_id == sub.id, Invoice.status == "open")).all():
        fire(lock(Invoice, open_invoice.id), "void_invoice", actor=actor, cause=cause)
    refund_ids = []
    for invoice, amount in due:
        paid_by = [p for p in invoice.payments if p.status == "completed" and p.settles_invoice] if amount > 0 else []
        if paid_by:
            refund_ids.append(request_refund(paid_by[0], amount, reason="canceled now: unused days",
                                             requested_by=actor).id)
    return refund_ids


def undo_cancel(subscription_id: int, *, actor: str, cause: str) -> None:
    """Job body: auto-renew on again, before the period ends."""
    with atomic():
        sub = lock(Subscription, subscription_id)
        if sub.status in ENTITLED_STATUSES and sub.cancel_at_period_end:
            fire(sub, "undo_cancel", actor=actor, cause=cause)
