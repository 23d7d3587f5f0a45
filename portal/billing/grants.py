"""Complimentary periods granted by staff or a partner, recorded as zero-amount invoices."""
from datetime import timedelta

from sqlalchemy import select

from portal import clock
from portal.billing.errors import InvalidRequest, NotFound
from portal.extensions import db
from portal.machines import atomic, fire, lock
from portal.models import Invoice, Plan, Subscription, User
from portal.models.subscription import LIVE_STATUSES

MAX_GRANT_DAYS = 366


def grant_days(customer_external_id: str, plan_code: str, days: int, *, actor: str, cause: str) -> int:
    """Extend the customer's live subscription by `days`, or start a complimentary one on the plan that
    ends by itself (nothing to charge). Returns the subscription id."""
    if not isinstance(days, int) or isinstance(days, bool) or not 0 < days <= MAX_GRANT_DAYS:
        raise InvalidRequest(f"days must be a whole number from 1 to {MAX_GRANT_DAYS}")
    customer = db.session.scalar(select(User).where(User.external_id == customer_external_id))
    if customer is None:
        raise NotFound(f"no customer with external id {customer_external_id!r}")
    plan = db.session.scalar(select(Plan).where(Plan.code == plan_code))
    if plan is None:
        raise NotFound(f"no plan with code {plan_code!r}")
    with atomic():
        live_id = db.session.scalar(select(Subscription.id).where(
            Subscription.customer_id == customer.id, Subscription.status.in_(LIVE_STATUSES)))
        if live_id is not None:
            sub = lock(Subscription, live_id)
            extend_locked(sub, days, actor=actor, cause=cause)
            return sub.id
        now = clock.now()
        sub = Subscription(customer_id=customer.id, plan_id=plan.id, status="pending", amount=plan.amount,
                           currency=plan.currency, cancel_at_period_end=True, created_at=now)
        db.session.add(sub)
        db.session.flush()
        invoice = _grant_invoice(sub, now, now + timedelta(days=days), cause)
        fire(invoice, "pay", actor=actor, cause=cause)
        fire(sub, "activate", actor=actor, cause=cause, period_start=invoice.period_start,
             period_end=invoice.period_end)
        return sub.id


def extend_locked(sub: Subscription, days: int, *, actor: str, cause: str) -> Invoice:
    """Add `days` to a live, locked subscription's period inside the caller's transaction, recorded as a
    paid zero-amount invoice. Returns that invoice."""
    start = sub.current_period_end
    invoice = _grant_invoice(sub, start, start + timedelta(days=days), cause)
    fire(invoice, "pay", actor=actor, cause=cause)
    fire(sub, "extend", actor=actor, cause=cause, period_end=invoice.period_end)
    return invoice


def _grant_invoice(sub, start, end, cause) -> Invoice:
    invoice = Invoice(subscription_id=sub.id, customer_id=sub.customer_id, kind="grant", status="open", amount=0,
                      currency=sub.currency, period_start=start, period_end=end,
                      description=f"Complimentary {(end - start).days} days: {cause}"[:255])
    db.session.add(invoice)
    db.session.flush()
    return invoice
