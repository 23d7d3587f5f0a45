"""Paid: what a provider transaction does to payments, invoices and subscriptions. The notification,
the direct API answer and reconciliation all come here, and converge on one payment per transaction."""
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from portal import clock
from portal.billing import dunning
from portal.billing.periods import add_interval
from portal.extensions import db
from portal.machines import atomic, fire, lock
from portal.models import Invoice, Payment, PaymentMethod, Subscription
from portal.models.types import token_fingerprint
from portal.providers import get_provider
from portal.queue import enqueue_after_commit

log = logging.getLogger(__name__)

SUCCESS_STATUSES = {"completed": "complete", "authorized": "authorize"}


@dataclass(frozen=True)
class Outcome:
    payment: Payment
    new: bool  # False when this transaction had been recorded already: nothing else changed


def _invoice_for(facts) -> Invoice | None:
    try:
        invoice_id = int(facts.invoice_id or "")
    except ValueError:
        return None
    if db.session.get(Invoice, invoice_id) is None:
        return None
    return lock(Invoice, invoice_id)


def _payment_for(facts, invoice: Invoice | None, provider: str) -> tuple[Payment, bool]:
    existing = db.session.scalar(
        select(Payment).where(Payment.provider == provider,
                              Payment.provider_transaction_id == str(facts.transaction_id)).with_for_update()
    )
    if existing is not None:
        return existing, False
    payment = Payment(
        provider=provider, provider_transaction_id=str(facts.transaction_id),
        invoice_id=invoice.id if invoice else None, customer_id=invoice.customer_id if invoice else None,
        amount=facts.amount_minor or 0, currency=facts.currency or (invoice.currency if invoice else "RUB"),
        status="pending", reason_code=facts.reason_code, reason=facts.reason,
        card_first_six=facts.card_first_six, card_last_four=facts.card_last_four, card_type=facts.card_type,
        test_mode=bool(facts.test_mode), raw=dict(facts.raw or {}),
    )
    db.session.add(payment)
    db.session.flush()
    return payment, True


def record_success(facts, *, actor: str, cause: str) -> Outcome:
    """A completed (or, for a card check, authorised) transaction. Call inside atomic()."""
    provider = get_provider().name
    invoice = _invoice_for(facts)
    payment, new = _payment_for(facts, invoice, provider)
    status = (facts.status or "completed").lower()
    event = SUCCESS_STATUSES.get(status)
    if event is None:
        raise ValueError(f"transaction {facts.transaction_id} is {facts.status!r}, not a success")

    if not new:
        if payment.status == "authorized" and status == "completed":
            fire(payment, "confirm", actor=actor, cause=cause)
            _settle_invoice(payment, invoice, facts, actor=actor, cause=cause)
        return Outcome(payment, False)

    fire(payment, event, actor=actor, cause=cause)
    if invoice is None:
        payment.needs_review = True
        log.warning("payment %s names no invoice of ours (%r): flagged for staff", payment.id, facts.invoice_id)
        return Outcome(payment, True)
    _settle_invoice(payment, invoice, facts, actor=actor, cause=cause)
    return Outcome(payment, True)


def _settle_invoice(payment: Payment, invoice: Invoice, facts, *, actor, cause):
    sub = lock(Subscription, invoice.subscription_id)
    if invoice.status != "open" or payment.amount != invoice.amount or sub.status in ("canceled", "expired"):
        # Paid twice (another transaction got there first), paid after the checkout expired or the
        # subscription ended, or for another amount: the money is real, so it is recorded and put in front of staff.
        payment.needs_review = True
        log.warning("payment %s for invoice %s (%s) needs review", payment.id, invoice.id, invoice.status)
        return
    _save_card(sub, facts)
    if invoice.kind == "verification":
        if payment.status == "authorized" and sub.status == "pending":
            start = clock.now()
            fire(sub, "start_trial", actor=actor, cause=cause, period_start=start,
                 period_end=start + timedelta(days=sub.plan.trial_days))
        # The card is proven; the authorisation itself is given back, never captured.
        enqueue_after_commit(db.session(), "workers.payments.void_verification", payment.id,
                             job_id=f"void-payment-{payment.id}")
        return
    if payment.status != "completed":
        return
    period_start, period_end = _period_bought(sub, invoice)
    fire(invoice, "pay", actor=actor, cause=cause, period_start=period_start, period_end=period_end)
    _extend_subscription(sub, invoice, actor=actor, cause=cause)


def _period_bought(sub: Subscription, invoice: Invoice):
    """The first payment buys a period starting now; renewals and repays name their period already."""
    if invoice.kind == "initial":
        start = clock.now()
        return start, add_interval(start, sub.plan.interval_unit, sub.plan.interval_count)
    return invoice.period_start, invoice.period_end


def _extend_subscription(sub: Subscription, invoice: Invoice, *, actor, cause):
    """What a paid invoice buys: the first period or the next one."""
    period = {"period_start": invoice.period_start, "period_end": invoice.period_end}
    if invoice.kind == "initial" and sub.status == "pending":
        fire(sub, "activate", actor=actor, cause=cause, **period)
    elif invoice.kind in ("renewal", "repay"):
        if sub.status == "trialing":
            fire(sub, "activate", actor=actor, cause=cause, **period)
        elif sub.status in ("active", "past_due"):
            fire(sub, "renew", actor=actor, cause=cause, **period)


def _save_card(sub: Subscription, facts):
    if not facts.token:
        return
    provider = get_provider().name
    card = db.session.scalar(select(PaymentMethod).where(
        PaymentMethod.user_id == sub.customer_id, PaymentMethod.provider == provider,
        PaymentMethod.token_fingerprint == token_fingerprint(facts.token)))
    if card is None:
        card = PaymentMethod.for_token(facts.token, user_id=sub.customer_id, provider=provider,
                                       card_first_six=facts.card_first_six, card_last_four=facts.card_last_four,
                                       card_type=facts.card_type, card_exp=facts.card_exp)
        db.session.add(card)
        db.session.flush()
    sub.payment_method_id = card.id


def record_decline(facts, *, actor: str, cause: str, retry_allowed: bool = True) -> Outcome:
    """A declined transaction: the attempt is counted once, and a renewal goes into dunning."""
    provider = get_provider().name
    invoice = _invoice_for(facts)
    payment, new = _payment_for(facts, invoice, provider)
    if not new:
        return Outcome(payment, False)
    fire(payment, "decline", actor=actor, cause=cause)
    if invoice is None or invoice.status != "open":
        return Outcome(payment, True)
    sub = lock(Subscription, invoice.subscription_id)
    if invoice.kind == "renewal":
        dunning.record_failed_renewal(invoice, sub, facts.reason_code, retry_allowed, actor=actor, cause=cause)
    else:
        fire(invoice, "record_failed_attempt", actor=actor, cause=cause, reason_code=facts.reason_code)
    return Outcome(payment, True)



def record_uncollectible(invoice: Invoice, sub: Subscription, *, actor: str, cause: str) -> None:
    """A charge that could not even be attempted (no saved card, the provider refused the request): an
    attempt without a payment. A renewal goes into dunning with no automatic retry; the customer can still
    pay with another card until the dunning window closes."""
    if invoice.kind == "renewal":
        dunning.record_failed_renewal(invoice, sub, None, False, actor=actor, cause=cause)
    else:
        fire(invoice, "record_failed_attempt", actor=actor, cause=cause)


def void_verification(payment_id: int) -> None:
    """Job body: give back the card check's authorisation and close its invoice. Safe to repeat:
    the request id is stable and a voided payment returns early."""
    from portal.providers import request_id

    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.status != "authorized":
        return
    get_provider().void(payment.provider_transaction_id, request_id=request_id("void", "payment", payment_id))
    with atomic():
        payment = lock(Payment, payment_id)
        if payment.status == "authorized":
            fire(payment, "void", actor="job:card-check", cause="card verified; authorisation voided")
        if payment.invoice_id is not None:
            invoice = lock(Invoice, payment.invoice_id)
            if invoice.status == "open":
                fire(invoice, "void_invoice", actor="job:card-check", cause="card verified; nothing to capture")
