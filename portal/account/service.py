"""What a customer's own pages read: their subscriptions, invoices, payments and refunds, always filtered
by owner (another customer's id simply does not exist here), and the live state of a checkout."""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from portal.billing.cancellation import refund_if_cancelled_now
from portal.billing.checkout import open_checkout_invoice
from portal.billing.endings import END_REASONS, ending_transition, reason_of
from portal.billing.errors import NotFound
from portal.billing.payments import decline_message
from portal.billing.prices import renewal_amount
from portal.extensions import db
from portal.models import Invoice, Payment, Plan, Refund, Subscription, User
from portal.models.invoice import CARD_CHECK_KINDS
from portal.models.subscription import ENDED_STATUSES, LIVE_STATUSES

MAX_ID = 2**31 - 1
LIVE = LIVE_STATUSES
HISTORY_LIMIT = 100


def _own(model, row_id: int, customer: User, column):
    row = db.session.get(model, row_id) if 0 < row_id <= MAX_ID else None
    if row is None or getattr(row, column) != customer.id:
        raise NotFound(f"no {model.__name__.lower()} {row_id}")
    return row


def own_subscription(customer: User, subscription_id: int) -> Subscription:
    return _own(Subscription, subscription_id, customer, "customer_id")


def own_invoice(customer: User, invoice_id: int) -> Invoice:
    return _own(Invoice, invoice_id, customer, "customer_id")


def own_payment(customer: User, payment_id: int) -> Payment:
    return _own(Payment, payment_id, customer, "customer_id")


def current_subscription(customer: User) -> Subscription | None:
    """The subscription the account page is about: the live one, else the newest checkout in progress,
    else the most recent one that ended."""
    subs = db.session.scalars(select(Subscription).where(Subscription.customer_id == customer.id)
                              .order_by(Subscription.id.desc()).limit(20)).all()
    for wanted in (LIVE, ("pending",)):
        for sub in subs:
            if sub.status in wanted:
                return sub
    return subs[0] if subs else None


@dataclass(frozen=True)
class Ending:
    """When and why a subscription ended, and what was refunded, as its card shows it."""

    at: datetime
    why: str  # one of ENDINGS
    was_trial: bool
    refunded: int
    currency: str


ENDINGS = END_REASONS


def ending(sub: Subscription | None) -> Ending | None:
    """Read from the transition that ended the subscription: who ended it, from which state."""
    if sub is None or sub.status not in ENDED_STATUSES or sub.ended_at is None:
        return None
    last = ending_transition(sub)
    source = last.from_state if last else "active"
    refunded = db.session.scalar(select(func.coalesce(func.sum(Invoice.amount_refunded), 0)).where(
        Invoice.subscription_id == sub.id)) or 0
    return Ending(at=sub.ended_at, why=reason_of(sub, last), was_trial=source == "trialing", refunded=refunded,
                  currency=sub.currency)


def refund_requested(sub: Subscription) -> int:
    """What is being (or has been) given back to the card for this subscription's payments, in minor units."""
    return db.session.scalar(select(func.coalesce(func.sum(Refund.amount), 0)).join(
        Payment, Payment.id == Refund.payment_id).join(Invoice, Invoice.id == Payment.invoice_id).where(
        Invoice.subscription_id == sub.id, Refund.status.in_(("pending", "succeeded")))) or 0


def subscriptions(customer: User) -> list[Subscription]:
    return list(db.session.scalars(select(Subscription).where(Subscription.customer_id == customer.id)
                                   .options(selectinload(Subscription.plan)).order_by(Subscription.id.desc())))


def invoices(customer: User) -> list[Invoice]:
    """Invoices worth showing: card checks (before a trial, or of a new card) are not bills."""
    return list(db.session.scalars(
        select(Invoice).where(Invoice.customer_id == customer.id, Invoice.kind.not_in(CARD_CHECK_KINDS))
        .options(selectinload(Invoice.subscription).selectinload(Subscription.plan))
        .order_by(Invoice.id.desc()).limit(HISTORY_LIMIT)))


def payments(customer: User) -> list[Payment]:
    return list(db.session.scalars(
        select(Payment).where(Payment.customer_id == customer.id)
        .options(selectinload(Payment.refunds), selectinload(Payment.invoice))
        .order_by(Payment.created_at.desc(), Payment.id.desc()).limit(HISTORY_LIMIT)))


def refunds_of(payment: Payment) -> list[Refund]:
    return list(payment.refunds)


def open_balance_invoice(sub: Subscription) -> Invoice | None:
    """The renewal or repay invoice a past-due subscription owes: what "pay now" pays."""
    return db.session.scalar(
        select(Invoice).where(Invoice.subscription_id == sub.id, Invoice.status == "open",
                              Invoice.kind.in_(("renewal", "repay")))
        .order_by(Invoice.id.desc()).limit(1))


def payable_invoice(customer: User, invoice_id: int) -> Invoice:
    """An invoice of the customer's that the widget may still pay."""
    invoice = own_invoice(customer, invoice_id)
    if invoice.status != "open" or invoice.kind == "grant":
        raise NotFound(f"invoice {invoice_id} is not open for payment")
    return invoice


def last_payment_id(invoice: Invoice) -> int:
    return db.session.scalar(select(Payment.id).where(Payment.invoice_id == invoice.id)
                             .order_by(Payment.id.desc()).limit(1)) or 0


@dataclass(frozen=True)
class CheckoutState:
    """Where a payment through the widget stands, from what the notifications have recorded so far."""

    # "processing" (not heard from the provider yet), "active", "trialing", "paid", "card_saved" (a card
    # check proved the new card), "trial_refused" (the card had a trial elsewhere: `invoice` is the paid
    # checkout that replaces the card check), "declined", "closed"
    state: str
    subscription: Subscription
    invoice: Invoice
    decline_message: str | None = None
    reason_code: int | None = None

    @property
    def final(self) -> bool:
        return self.state != "processing"


def checkout_state(invoice: Invoice, after_payment_id: int = 0) -> CheckoutState:
    """After the widget closed: has the notification of this attempt been processed? `after_payment_id` is
    the newest payment of the invoice before the attempt, so an earlier decline does not count again."""
    db.session.refresh(invoice)
    sub = db.session.get(Subscription, invoice.subscription_id)
    db.session.refresh(sub)
    if invoice.kind == "card_check":
        return _card_check_state(invoice, sub, after_payment_id)
    if sub.status in ("active", "trialing") and invoice.kind in ("initial", "verification"):
        return CheckoutState(sub.status, sub, invoice)
    if invoice.status == "paid":
        return CheckoutState("paid", sub, invoice)
    if invoice.kind == "verification" and sub.status == "pending" and sub.trial_refusal:
        paid_checkout = open_checkout_invoice(sub)
        if paid_checkout is not None and paid_checkout.kind == "initial":
            return CheckoutState("trial_refused", sub, paid_checkout)
    if invoice.status != "open" or sub.status in ENDED_STATUSES:
        return CheckoutState("closed", sub, invoice)
    return _attempt_state(invoice, sub, after_payment_id)


def _attempt_state(invoice: Invoice, sub: Subscription, after_payment_id: int) -> CheckoutState:
    """Declined when the latest attempt since `after_payment_id` was declined and none succeeded; else processing."""
    newer = db.session.scalars(select(Payment).where(Payment.invoice_id == invoice.id,
                                                     Payment.id > after_payment_id)
                               .order_by(Payment.id.desc())).all()
    declined = next((p for p in newer if p.status == "declined"), None)
    if declined is not None and not any(p.status in ("completed", "authorized") for p in newer):
        return CheckoutState("declined", sub, invoice, decline_message(declined),
                             declined.reason_code)
    return CheckoutState("processing", sub, invoice)


def _card_check_state(invoice: Invoice, sub: Subscription, after_payment_id: int) -> CheckoutState:
    """A card replacement is done once a payment proved the card (authorised, then voided) and settled it."""
    proved = db.session.scalar(select(Payment.id).where(
        Payment.invoice_id == invoice.id, Payment.id > after_payment_id, Payment.needs_review.is_(False),
        Payment.status.in_(("authorized", "voided"))).limit(1))
    if proved is not None:
        return CheckoutState("card_saved", sub, invoice)
    if invoice.status != "open" or sub.status in ENDED_STATUSES:
        return CheckoutState("closed", sub, invoice)
    return _attempt_state(invoice, sub, after_payment_id)


@dataclass(frozen=True)
class NextCharge:
    at: datetime
    amount: int
    currency: str


def next_charge(sub: Subscription) -> NextCharge | None:
    """When the saved card is charged next and how much: none once auto-renew is off or the subscription ended."""
    if sub.status not in LIVE or sub.cancel_at_period_end or sub.current_period_end is None:
        return None
    if sub.status == "past_due":
        invoice = open_balance_invoice(sub)
        if invoice is not None and invoice.next_attempt_at is not None:
            return NextCharge(invoice.next_attempt_at, invoice.amount, invoice.currency)
        return None
    # Paused (or pausing at the period end): nothing is charged until the resume, which bills a new period.
    at = sub.resumes_at if sub.resumes_at is not None and (sub.status == "paused" or sub.pause_starts_at) \
        else sub.current_period_end
    return NextCharge(at, renewal_amount(sub, at), sub.currency)


def plans_to_change_to(sub: Subscription) -> list[Plan]:
    """The plans on sale in the subscription's currency, other than its own."""
    return list(db.session.scalars(select(Plan).where(
        Plan.status == "active", Plan.currency == sub.currency, Plan.id != sub.plan_id).order_by(Plan.amount, Plan.id)))


def cancel_now_refund(sub: Subscription) -> int:
    """What cancelling now gives back, from the refund policy; shown before the customer confirms."""
    return refund_if_cancelled_now(sub)


# A subscription's pending change: the page polls until the job that makes it has run.
CHANGES = ("cancel_period_end", "undo_cancel", "cancel_now", "repay", "pause", "resume", "upgrade", "plan_changed",
           "plan_scheduled", "plan_unscheduled")


def change_done(sub: Subscription, change: str | None, after_payment_id: int = 0) -> bool:
    db.session.refresh(sub)
    if change == "cancel_period_end":
        return sub.cancel_at_period_end or sub.status not in LIVE
    if change == "undo_cancel":
        return not sub.cancel_at_period_end or sub.status not in LIVE
    if change == "pause":
        return sub.pause_starts_at is not None or sub.status != "active"
    if change == "resume":
        return sub.status != "paused" and sub.pause_starts_at is None
    if change == "cancel_now":
        return sub.status in ENDED_STATUSES
    if change == "repay":
        if sub.status != "past_due":
            return True
        return db.session.scalar(select(Payment.id).where(
            Payment.customer_id == sub.customer_id, Payment.id > after_payment_id,
            Payment.status.in_(("declined", "completed"))).limit(1)) is not None
    if change == "upgrade":  # `after` is the proration invoice: paid, or its charge declined
        invoice = db.session.get(Invoice, after_payment_id)
        if invoice is None:
            return True
        db.session.refresh(invoice)
        return invoice.status != "open" or bool(invoice.attempt_count)
    if change in ("plan_changed", "plan_scheduled"):  # `after` is the plan changed to
        return (sub.plan_id if change == "plan_changed" else sub.scheduled_plan_id) == after_payment_id \
            or sub.status not in LIVE
    if change == "plan_unscheduled":
        return sub.scheduled_plan_id is None
    return True


def last_customer_payment_id(customer: User) -> int:
    return db.session.scalar(select(Payment.id).where(Payment.customer_id == customer.id)
                             .order_by(Payment.id.desc()).limit(1)) or 0


def last_decline(sub: Subscription) -> Payment | None:
    """The latest declined payment of the subscription's open balance, to explain a past-due state."""
    invoice = open_balance_invoice(sub)
    if invoice is None:
        return None
    return db.session.scalar(select(Payment).where(Payment.invoice_id == invoice.id, Payment.status == "declined")
                             .order_by(Payment.id.desc()).limit(1))
