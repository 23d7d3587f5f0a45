"""Scheduled work: renewals due, dunning retries, checkout expiry and reconciliation. Each tick finds
the work and hands it to jobs; each job locks its rows and returns early where the work is done."""
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import cache

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import clock
from portal.billing import dunning, pauses, plan_change, prices
from portal.billing.checkout import CHECKOUT_LIFETIME, close_checkout
from portal.billing.periods import anchored_period_end
from portal.extensions import db
from portal.machines import atomic, fire, hold, lock, lock_all
from portal.models import Invoice, Plan, Subscription
from portal.models.invoice import RECONCILED_KINDS
from portal.models.subscription import RENEWABLE_STATUSES
from portal.ops import test_clock
from portal.queue import enqueue, enqueue_each

RECONCILE_AFTER = timedelta(minutes=15)


def charge_job_id(invoice: Invoice) -> str:
    return f"charge-invoice-{invoice.id}-attempt-{(invoice.attempt_count or 0) + 1}"


def renewals_due(now=None) -> int:
    """Subscriptions whose period has ended, handed to renewal jobs a group at a time: the tick stays
    quick however many are due. A group is the due subscriptions among RENEWAL_BATCH consecutive ids,
    so a later tick names the same job while it waits (and enqueues nothing twice); one job charges its
    group's cards side by side, so a worker has up to RENEWAL_BATCH provider calls in flight."""
    now = now or clock.now()
    due = db.session.execute(
        select(Subscription.id, Subscription.customer_id)
        .where(Subscription.status.in_(RENEWABLE_STATUSES),
               test_clock.reached(Subscription.current_period_end, Subscription.customer_id, now))
        .order_by(Subscription.id)
    ).all()
    size = current_app.config["RENEWAL_BATCH"]
    groups = {}
    for sub_id, customer_id in due:
        groups.setdefault(test_clock.renewal_group(sub_id, customer_id, size), []).append(sub_id)
    enqueue_each("workers.payments.renew_subscriptions",
                 [(f"renew-subscriptions-{size}-{group}", (ids,)) for group, ids in groups.items()])
    return len(due)


def renew(sub_id: int):
    """The period's renewal invoice (created once), charged; or the end the customer asked for."""
    from portal.billing.charging import ChargeOutcome, charge_invoice

    invoice_id = open_renewal(sub_id)
    if invoice_id is None:
        return ChargeOutcome.NOTHING_TO_CHARGE
    return charge_invoice(invoice_id)


def renew_many(sub_ids: list[int]) -> dict:
    """Job body: `renew` for a group of subscriptions, their cards charged side by side."""
    from portal.billing.charging import ChargeOutcome, charge_invoices

    invoices = open_renewals(sub_ids)
    charged = charge_invoices(list(invoices.values()), pool=_charging_pool())
    return {sub_id: charged.get(invoices.get(sub_id), ChargeOutcome.NOTHING_TO_CHARGE) for sub_id in sub_ids}


@cache
def _charging_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=current_app.config["RENEWAL_BATCH"], thread_name_prefix="charge")


def open_renewal(sub_id: int) -> int | None:
    """The renewal invoice for the subscription's next period, created once; or the end of a
    subscription set to cancel at period end. Returns the invoice to charge, if any."""
    return open_renewals([sub_id]).get(sub_id)


def open_renewals(sub_ids: list[int]) -> dict[int, int]:
    """`open_renewal` for many subscriptions in one transaction: subscription id -> invoice to charge.
    If another worker created one of the invoices meanwhile (the unique index decides), each is done
    alone."""
    try:
        with atomic():
            locked = lock_all(Subscription, sub_ids).values()
            now = clock.now()  # after the lock: a test clock's customer renews at their time
            subs = [s for s in locked if s.status in RENEWABLE_STATUSES and s.current_period_end <= now]
            existing = {(i.subscription_id, i.period_start): i for i in db.session.scalars(select(Invoice).where(
                Invoice.subscription_id.in_([s.id for s in subs]), Invoice.kind == "renewal",
                Invoice.period_start.in_({s.current_period_end for s in subs})))}
            for plan in db.session.scalars(select(Plan).where(Plan.id.in_(
                    {s.plan_id for s in subs} | {s.scheduled_plan_id for s in subs if s.scheduled_plan_id}))):
                hold((Plan, plan.id), plan)
            lapsing = plan_change.open_prorations_of([s.id for s in subs])
            invoices = {}
            for sub in subs:
                if sub.cancel_at_period_end:
                    plan_change.lapse(lapsing.get(sub.id, []), actor="job:renewal")
                    fire(sub, "cancel", actor="job:renewal", cause="period ended with auto-renew off")
                    continue
                if pauses.pause_locked(sub, actor="job:renewal", cause="period ended; the customer asked for a pause"):
                    continue
                if (sub.id, sub.current_period_end) not in existing:
                    plan_change.take_effect_at_period_end(sub, lapsing.get(sub.id, []), actor="job:renewal")
                    prices.take_effect_at_renewal(sub, actor="job:renewal")
                invoices[sub.id] = existing.get((sub.id, sub.current_period_end)) or _renewal_invoice(sub)
            db.session.flush()
            return {sub_id: invoice.id for sub_id, invoice in invoices.items() if invoice.status == "open"}
    except IntegrityError:
        if len(sub_ids) == 1:
            return {}
        return {sub_id: invoice_id for one in sub_ids for sub_id, invoice_id in open_renewals([one]).items()}


def _renewal_invoice(sub: Subscription) -> Invoice:
    start = sub.current_period_end
    invoice = Invoice(subscription_id=sub.id, customer_id=sub.customer_id, kind="renewal", status="open",
                      amount=sub.amount, currency=sub.currency, period_start=start,
                      period_end=anchored_period_end(sub.billing_anchor, start, sub.plan.interval_unit,
                                                     sub.plan.interval_count),
                      description=f"Renewal of {sub.plan.name_en}", next_attempt_at=start)
    db.session.add(invoice)
    return invoice


def dunning_due(now=None) -> int:
    """Past-due invoices whose retry time has come; exhausted ones end their subscription."""
    now = now or clock.now()
    rows = db.session.execute(
        select(Invoice.id, Invoice.next_attempt_at, Invoice.customer_id).join(Subscription)
        .where(Invoice.status == "open", Invoice.kind == "renewal", Subscription.status == "past_due",
               (test_clock.reached(Invoice.next_attempt_at, Invoice.customer_id, now)
                | test_clock.reached(Invoice.dunning_ends_at, Invoice.customer_id, now)))
    ).all()
    for invoice_id, next_attempt_at, customer_id in rows:
        if next_attempt_at is not None and next_attempt_at <= now + test_clock.offset_of(customer_id):
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
        Subscription.status == "pending",
        test_clock.reached(Subscription.created_at, Subscription.customer_id, now - CHECKOUT_LIFETIME))).all()
    for sub_id in stale:
        with atomic():
            sub = lock(Subscription, sub_id)
            if sub.status == "pending":
                close_checkout(sub, "expire", actor="job:checkout-expiry", cause="checkout not paid within 24 hours")
    # A card replacement nobody finished: its check closes; the subscription keeps its card.
    abandoned = db.session.scalars(select(Invoice.id).where(
        Invoice.kind == "card_check", Invoice.status == "open",
        test_clock.reached(Invoice.created_at, Invoice.customer_id, now - CHECKOUT_LIFETIME))).all()
    for invoice_id in abandoned:
        with atomic():
            invoice = lock(Invoice, invoice_id)
            if invoice.status == "open":
                fire(invoice, "void_invoice", actor="job:checkout-expiry", cause="card check not made within 24 hours")
    return len(stale) + len(abandoned)


def reconciliation_due(now=None) -> int:
    """Open checkout invoices older than 15 minutes: ask the provider whether they were paid."""
    now = now or clock.now()
    ids = db.session.scalars(select(Invoice.id).where(
        Invoice.status == "open", Invoice.kind.in_(RECONCILED_KINDS),
        Invoice.checkout_started_at <= now - RECONCILE_AFTER,
        Invoice.created_at > now - CHECKOUT_LIFETIME)).all()
    for invoice_id in ids:
        enqueue("workers.payments.reconcile_invoice", invoice_id, job_id=f"reconcile-invoice-{invoice_id}")
    return len(ids)
