"""Scheduled work: renewals due, dunning retries, checkout expiry and reconciliation. Each tick finds
the work and hands each piece to its own job; each job locks its row and returns early if done."""
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import clock
from portal.billing import dunning
from portal.billing.checkout import CHECKOUT_LIFETIME
from portal.billing.periods import add_interval
from portal.extensions import db
from portal.machines import atomic, fire, lock
from portal.models import Invoice, Subscription
from portal.queue import enqueue, enqueue_each

RECONCILE_AFTER = timedelta(minutes=15)


def charge_job_id(invoice: Invoice) -> str:
    return f"charge-invoice-{invoice.id}-attempt-{(invoice.attempt_count or 0) + 1}"


def renewals_due(now=None) -> int:
    """Subscriptions whose period has ended, each handed to its own renewal job: the tick stays quick
    however many are due, and the worker pool charges them side by side."""
    now = now or clock.now()
    due = db.session.execute(
        select(Subscription.id, Subscription.current_period_end)
        .where(Subscription.status.in_(("active", "trialing")), Subscription.current_period_end <= now)
        .order_by(Subscription.current_period_end)
    ).all()
    renewals = [(f"renew-subscription-{sub_id}-{int(period_end.timestamp())}", (sub_id,))
                for sub_id, period_end in due]
    enqueue_each("workers.payments.renew_subscription", renewals)
    return len(due)


def renew(sub_id: int) -> str:
    """Job body: the period's renewal invoice (created once), charged; or the end the customer asked for."""
    from portal.billing.charging import charge_invoice

    invoice_id = open_renewal(sub_id)
    if invoice_id is None:
        return "nothing to charge"
    return charge_invoice(invoice_id)


def open_renewal(sub_id: int) -> int | None:
    """The renewal invoice for the subscription's next period, created once; or the end of a
    subscription set to cancel at period end. Returns the invoice to charge, if any."""
    with atomic():
        sub = lock(Subscription, sub_id)
        if sub.status not in ("active", "trialing") or sub.current_period_end > clock.now():
            return None
        if sub.cancel_at_period_end:
            fire(sub, "cancel", actor="job:renewal", cause="period ended with auto-renew off")
            return None
        start = sub.current_period_end
        existing = db.session.scalar(select(Invoice).where(
            Invoice.subscription_id == sub.id, Invoice.kind == "renewal", Invoice.period_start == start))
        if existing is not None:
            return existing.id if existing.status == "open" else None
        invoice = Invoice(subscription_id=sub.id, customer_id=sub.customer_id, kind="renewal", status="open",
                          amount=sub.amount, currency=sub.currency, period_start=start,
                          period_end=add_interval(start, sub.plan.interval_unit, sub.plan.interval_count),
                          description=f"Renewal of {sub.plan.name}", next_attempt_at=start)
        db.session.add(invoice)
        try:
            db.session.flush()
        except IntegrityError:
            # Another worker created it between our check and insert; the unique index decided.
            return None
        return invoice.id


def dunning_due(now=None) -> int:
    """Past-due invoices whose retry time has come; exhausted ones end their subscription."""
    now = now or clock.now()
    rows = db.session.execute(
        select(Invoice.id, Invoice.next_attempt_at, Invoice.dunning_ends_at).join(Subscription)
        .where(Invoice.status == "open", Invoice.kind == "renewal", Subscription.status == "past_due",
               ((Invoice.next_attempt_at <= now) | (Invoice.dunning_ends_at <= now)))
    ).all()
    for invoice_id, next_attempt_at, _ in rows:
        if next_attempt_at is not None and next_attempt_at <= now:
            invoice = db.session.get(Invoice, invoice_id)
            enqueue("workers.payments.charge_invoice", invoice_id, job_id=charge_job_id(invoice))
        else:
            expire_exhausted(invoice_id)
    return len(rows)


def expire_exhausted(invoice_id: int) -> None:
    with atomic():
        invoice = lock(Invoice, invoice_id)
        sub = lock(Subscription, invoice.subscription_id)
        if invoice.status == "open" and dunning.is_exhausted(invoice, clock.now()):
            dunning.give_up(invoice, sub, actor="job:dunning", cause="dunning window closed")


def checkouts_expired(now=None) -> int:
    """Pending subscriptions nobody paid for within the checkout lifetime expire; their invoices are voided."""
    now = now or clock.now()
    stale = db.session.scalars(select(Subscription.id).where(
        Subscription.status == "pending", Subscription.created_at <= now - CHECKOUT_LIFETIME)).all()
    for sub_id in stale:
        with atomic():
            sub = lock(Subscription, sub_id)
            if sub.status != "pending":
                continue
            for invoice in db.session.scalars(select(Invoice).where(
                    Invoice.subscription_id == sub_id, Invoice.status == "open")):
                fire(lock(Invoice, invoice.id), "void_invoice", actor="job:checkout-expiry",
                     cause="checkout not paid within 24 hours")
            fire(sub, "expire", actor="job:checkout-expiry", cause="checkout not paid within 24 hours")
    return len(stale)


def reconciliation_due(now=None) -> int:
    """Open checkout invoices older than 15 minutes: ask the provider whether they were paid."""
    now = now or clock.now()
    ids = db.session.scalars(select(Invoice.id).where(
        Invoice.status == "open", Invoice.kind.in_(("initial", "verification")),
        Invoice.checkout_started_at <= now - RECONCILE_AFTER,
        Invoice.created_at > now - CHECKOUT_LIFETIME)).all()
    for invoice_id in ids:
        enqueue("workers.payments.reconcile_invoice", invoice_id, job_id=f"reconcile-invoice-{invoice_id}")
    return len(ids)
