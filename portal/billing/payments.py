"""Paid: what a provider transaction does to payments, invoices and subscriptions. The notification,
the direct API answer and reconciliation all come here, and converge on one payment per transaction."""
import logging
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import select

from portal import clock
from portal.billing import dunning, fiscal
from portal.billing.periods import add_interval
from portal.extensions import db
from portal.machines import atomic, fire, held, hold, lock, lock_all, reserve_ids, reserved_id
from portal.models import Invoice, Payment, PaymentMethod, Plan, Subscription, User
from portal.models.invoice import CARD_CHECK_KINDS, KINDS
from portal.models.types import token_fingerprint
from portal.providers import Decline, DeclineCategory, adapter_class, get_provider
from portal.queue import enqueue_after_commit

log = logging.getLogger(__name__)

SUCCESS_STATUSES = {"completed": "complete", "authorized": "authorize"}
# Who asks for the refund of an invoice's second charge.
DUPLICATE_ACTOR = "job:duplicate-charge"


@dataclass(frozen=True)
class Outcome:
    payment: Payment
    new: bool  # False when this transaction had been recorded already: nothing else changed


def invoice_number(facts) -> int | None:
    """The invoice a transaction names, when it can be one of ours: ASCII digits within the id column's
    32-bit range (int() would also take " 41", "4_1" and other scripts' digits)."""
    text = facts.invoice_id or ""
    if not (text.isascii() and text.isdigit() and len(text) <= 10):
        return None
    number = int(text)
    return number if 0 < number < 2**31 else None


def _invoice_for(facts) -> Invoice | None:
    number = invoice_number(facts)
    return lock(Invoice, number, missing_ok=True) if number is not None else None


def payment_key(provider: str, transaction_id) -> tuple:
    """How a transaction's payment is remembered as held (see portal.machines.hold)."""
    return (Payment, "transaction", provider, str(transaction_id))


def _payment_for(facts, invoice: Invoice | None, provider: str) -> tuple[Payment, bool]:
    key = payment_key(provider, facts.transaction_id)
    existing = held(key, default=key)
    if existing is key:  # not looked up in this transaction yet
        existing = db.session.scalar(
            select(Payment).where(Payment.provider == provider,
                                  Payment.provider_transaction_id == str(facts.transaction_id)).with_for_update()
        )
    if existing is not None:
        return existing, False
    payment = Payment(
        id=reserved_id(Payment), provider=provider, provider_transaction_id=str(facts.transaction_id),
        invoice=invoice, customer_id=invoice.customer_id if invoice else None,
        amount=facts.amount_minor or 0, currency=facts.currency or (invoice.currency if invoice else "RUB"),
        status="pending", reason_code=facts.reason_code, reason=facts.reason,
        card_first_six=facts.card_first_six, card_last_four=facts.card_last_four, card_type=facts.card_type,
        test_mode=bool(facts.test_mode), raw=dict(facts.raw or {}),
    )
    db.session.add(payment)
    if payment.id is None:
        db.session.flush()
    hold(key, payment)
    return payment, True


def hold_for(transactions: list) -> None:
    """Lock and load in bulk what `record_success` reads for these transactions, in the order it locks
    them (invoices, payments, subscriptions): applying a batch then asks the database nothing more."""
    by_provider: dict[str, list] = {}
    for facts in transactions:
        by_provider.setdefault(facts.provider, []).append(facts)
    invoices = lock_all(Invoice, [n for facts in transactions if (n := invoice_number(facts)) is not None])
    existing = {(p.provider, p.provider_transaction_id): p for provider, batch in sorted(by_provider.items())
                for p in db.session.scalars(select(Payment).where(
                    Payment.provider == provider, Payment.provider_transaction_id.in_(
                        [str(facts.transaction_id) for facts in batch])).order_by(Payment.id).with_for_update())}
    for facts in transactions:
        key = (facts.provider, str(facts.transaction_id))
        hold(payment_key(*key), existing.get(key))
    reserve_ids(Payment, len(transactions) - len(existing))
    subs = lock_all(Subscription, [invoice.subscription_id for invoice in invoices.values()])
    customers = {sub.customer_id for sub in subs.values()}
    # Read by the transitions' bus payloads; held so the session keeps them for the whole batch.
    for row in db.session.scalars(select(User).where(User.id.in_(customers))):
        hold((User, row.id), row)
    for row in db.session.scalars(select(Plan).where(Plan.id.in_({sub.plan_id for sub in subs.values()}))):
        hold((Plan, row.id), row)
    cards = {(c.user_id, c.provider, c.token_fingerprint): c for c in db.session.scalars(select(PaymentMethod).where(
        PaymentMethod.provider.in_(by_provider), PaymentMethod.user_id.in_(customers)))}
    for facts in transactions:
        invoice = invoices.get(invoice_number(facts))
        if facts.card is not None and invoice is not None:
            hold(card_key(invoice.customer_id, facts.provider, facts.card.token),
                 cards.get((invoice.customer_id, facts.provider, token_fingerprint(facts.card.token))))


def record_success(facts, *, actor: str, cause: str) -> Outcome:
    """A completed (or, for a card check, authorised) transaction. Call inside atomic()."""
    provider = facts.provider
    invoice = _invoice_for(facts)
    payment, new = _payment_for(facts, invoice, provider)
    status = (facts.status or "completed").lower()
    event = SUCCESS_STATUSES.get(status)
    if event is None:
        raise ValueError(f"transaction {facts.transaction_id} is {facts.status!r}, not a success")

    if not new:
        if payment.status == "authorized" and status == "completed":
            _record(payment, invoice, facts, "confirm", actor=actor, cause=cause)
        return Outcome(payment, False)
    _record(payment, invoice, facts, event, actor=actor, cause=cause)
    return Outcome(payment, True)


@dataclass(frozen=True)
class Mismatch:
    """Why a payment cannot settle the invoice it names."""
    reason: str
    # The customer paid an invoice that another of their payments had paid: money to give back at once.
    paid_twice: bool = False
    # The payer is not the invoice's customer: the payment is not theirs to see, nor the card theirs to keep.
    stranger: bool = False


def settlement_mismatch(payment: Payment, invoice: Invoice | None, sub: Subscription | None, facts) -> Mismatch | None:
    """A notification settles only what we billed: amount, currency, invoice and customer must all match."""
    from portal.billing.checkout import account_id

    if invoice is None:
        return Mismatch(f"names no invoice of ours (InvoiceId {str(facts.invoice_id)[:64]!r})")
    expected = account_id(invoice.customer)
    if facts.account_id != expected:
        return Mismatch(f"paid by account {str(facts.account_id)[:64]!r}, but invoice {invoice.id} is billed to "
                        f"{expected!r}", stranger=True)
    if payment.currency != invoice.currency:
        return Mismatch(f"paid in {payment.currency}, but invoice {invoice.id} is billed in {invoice.currency}")
    if payment.amount != invoice.amount:
        return Mismatch(f"paid {payment.amount} minor units, but invoice {invoice.id} is for {invoice.amount}")
    if invoice.status in ("paid", "refunded"):
        return Mismatch(f"invoice {invoice.id} was already paid by another transaction", paid_twice=True)
    if invoice.status != "open":
        return Mismatch(f"invoice {invoice.id} is {invoice.status}")
    if sub.status in ("canceled", "expired"):
        return Mismatch(f"subscription {sub.id} is {sub.status}")
    return None


def _record(payment: Payment, invoice: Invoice | None, facts, event: str, *, actor, cause):
    """Run the payment's success event; it settles the invoice, or it is held for staff with the reason
    (before the event, so a held payment announces no payment.succeeded) and the invoice stays open."""
    sub = lock(Subscription, invoice.subscription_id) if invoice is not None else None
    mismatch = settlement_mismatch(payment, invoice, sub, facts)
    if mismatch is not None and not payment.needs_review and payment.review_resolution is None:
        fire(payment, "hold_for_review", actor=actor, cause=cause, reason=mismatch.reason,
             stranger=mismatch.stranger)
    fire(payment, event, actor=actor, cause=cause)
    fiscal.expect_income(payment, invoice)  # the till registered it, whether or not it settles the invoice
    if not payment.settles_invoice:
        log.warning("payment %s needs review: %s", payment.id, payment.review_reason)
        if mismatch is not None and mismatch.paid_twice and payment.status == "completed":
            _refund_paid_twice(payment)
        return
    settle_invoice(payment, invoice, sub, facts, actor=actor, cause=cause)


def _refund_paid_twice(payment: Payment) -> None:
    """The second charge of one invoice goes back to the card through the provider, in a job after commit."""
    from portal.billing import refunds

    refund = refunds.request_refund(payment, payment.amount - payment.amount_refunded, requested_by=DUPLICATE_ACTOR,
                                    reason=f"charged twice: {payment.review_reason}")
    enqueue_after_commit(db.session(), "workers.payments.send_refund", refund.id, job_id=f"refund-{refund.id}")


def settle_invoice(payment: Payment, invoice: Invoice, sub: Subscription, facts, *, actor, cause):
    """What a matching payment does: the card is saved (if the transaction carries one), the invoice paid and the
    subscription started or extended. `facts` is None for a payment staff attach from the review queue."""
    if invoice.kind == "card_check" and facts is not None and facts.card is not None:
        from portal.billing.cards import replace_card

        replace_card(sub, _card_for(sub, facts), actor=actor, cause=cause)
    elif facts is not None:
        _save_card(sub, facts)
    if invoice.kind in CARD_CHECK_KINDS:
        if invoice.kind == "verification" and payment.status == "authorized" and sub.status == "pending":
            _start_trial(sub, invoice, facts, actor=actor, cause=cause)
        # The card is proven; the authorisation itself is given back, never captured.
        enqueue_after_commit(db.session(), "workers.payments.void_verification", payment.id,
                             job_id=f"void-payment-{payment.id}")
        return
    if payment.status != "completed":
        return
    period_start, period_end = _period_bought(sub, invoice)
    fire(invoice, "pay", actor=actor, cause=cause, period_start=period_start, period_end=period_end)
    _extend_subscription(sub, invoice, actor=actor, cause=cause)


def _start_trial(sub: Subscription, invoice: Invoice, card, *, actor, cause):
    """A proven card starts the trial, unless the card had one on another account (a Check that let it
    through did not know yet): then the checkout is paid from the first day instead."""
    from portal.billing import trials

    if card is not None and not trials.claim_card(sub, card):
        trials.refuse_trial(sub, invoice, actor=actor, cause=f"{cause}: this card had a free trial on another account")
        return
    start = clock.now()
    fire(sub, "start_trial", actor=actor, cause=cause, period_start=start,
         period_end=start + timedelta(days=sub.plan.trial_days))


def _period_bought(sub: Subscription, invoice: Invoice):
    """The first payment buys a period starting now; renewals and repays name their period already."""
    if KINDS[invoice.kind].period_from_payment:
        start = clock.now()
        return start, add_interval(start, sub.plan.interval_unit, sub.plan.interval_count)
    return invoice.period_start, invoice.period_end


def _extend_subscription(sub: Subscription, invoice: Invoice, *, actor, cause):
    """What a paid invoice buys, by its kind: the first period, the next one, or a plan change."""
    buys = _BUYS.get(invoice.kind)
    if buys is not None:
        buys(sub, invoice, actor=actor, cause=cause)


def _first_period(sub: Subscription, invoice: Invoice, *, actor, cause):
    if sub.status == "pending":
        fire(sub, "activate", actor=actor, cause=cause, period_start=invoice.period_start,
             period_end=invoice.period_end)


def _next_period(sub: Subscription, invoice: Invoice, *, actor, cause):
    event = {"trialing": "activate", "active": "renew", "past_due": "renew"}.get(sub.status)
    if event is not None:
        fire(sub, event, actor=actor, cause=cause, period_start=invoice.period_start, period_end=invoice.period_end)


def _plan_change(sub: Subscription, invoice: Invoice, *, actor, cause):
    from portal.billing.plan_change import proration_paid

    proration_paid(sub, invoice, actor=actor, cause=cause)


# Grants settle themselves (portal/billing/grants.py); card checks buy nothing.
_BUYS = {"initial": _first_period, "renewal": _next_period, "repay": _next_period, "proration": _plan_change}


def _save_card(sub: Subscription, facts):
    if facts.card is not None:
        sub.payment_method = _card_for(sub, facts)


def _card_for(sub: Subscription, facts) -> PaymentMethod:
    """The customer's card this transaction saved (its card-saved event), recorded on first sight."""
    provider, saved = facts.provider, facts.card
    key = card_key(sub.customer_id, provider, saved.token)
    card = held(key, default=key)
    if card is key:
        card = db.session.scalar(select(PaymentMethod).where(
            PaymentMethod.user_id == sub.customer_id, PaymentMethod.provider == provider,
            PaymentMethod.token_fingerprint == token_fingerprint(saved.token)))
    if card is None:
        card = PaymentMethod.for_token(saved.token, user_id=sub.customer_id, provider=provider,
                                       card_first_six=saved.first_six, card_last_four=saved.last_four,
                                       card_type=saved.card_type, card_exp=saved.exp,
                                       card_issuer=(saved.issuer or "")[:64] or None)
        db.session.add(card)
        hold(key, card)
    return card


def decline_message(payment: Payment) -> str:
    """What the customer reads about a declined payment (English; pages translate it), as the adapter of
    the provider that declined it words its code or reason."""
    return adapter_class(payment.provider).customer_message(payment.reason_code, payment.reason)


def card_key(customer_id: int, provider: str, token: str) -> tuple:
    return (PaymentMethod, customer_id, provider, token_fingerprint(token))


def record_decline(facts, *, actor: str, cause: str, decline: Decline | None = None,
                   retry_allowed: bool | None = None) -> Outcome:
    """A declined transaction: the attempt is counted once, and a renewal goes into dunning as its neutral
    decline says (`retry_allowed` overrides the decline's advice)."""
    provider = facts.provider
    decline = decline or facts.decline or Decline(DeclineCategory.OTHER, code=facts.reason_code, reason=facts.reason)
    if retry_allowed is not None:
        decline = replace(decline, retry_allowed=retry_allowed)
    invoice = _invoice_for(facts)
    payment, new = _payment_for(facts, invoice, provider)
    if not new:
        return Outcome(payment, False)
    payment.card_holder_message = (decline.card_holder_message or "").strip()[:500] or None
    fire(payment, "decline", actor=actor, cause=cause)
    if invoice is None or invoice.status != "open":
        return Outcome(payment, True)
    sub = lock(Subscription, invoice.subscription_id)
    if invoice.kind == "renewal":
        dunning.record_failed_renewal(invoice, sub, decline, actor=actor, cause=cause)
    else:
        fire(invoice, "record_failed_attempt", actor=actor, cause=cause, reason_code=facts.reason_code)
    return Outcome(payment, True)



def record_uncollectible(invoice: Invoice, sub: Subscription, *, actor: str, cause: str) -> None:
    """A charge that could not even be attempted (no saved card, the provider refused the request): an
    attempt without a payment. A renewal goes into dunning with no automatic retry; the customer can still
    pay with another card until the dunning window closes."""
    if invoice.kind == "renewal":
        dunning.record_failed_renewal(invoice, sub, None, actor=actor, cause=cause)
    else:
        fire(invoice, "record_failed_attempt", actor=actor, cause=cause)


def void_verification(payment_id: int) -> None:
    """Job body: give back the card check's authorisation and close its invoice. Safe to repeat:
    the request id is stable and a voided payment returns early."""
    from portal.providers import request_id

    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.status != "authorized":
        return
    # The card check is voided where it was made, whatever the default provider is now.
    get_provider(payment.provider).void(payment.provider_transaction_id,
                                        request_id=request_id("void", "payment", payment_id))
    with atomic():
        payment = lock(Payment, payment_id)
        if payment.status == "authorized":
            fire(payment, "void", actor="job:card-check", cause="card verified; authorisation voided")
        if payment.invoice_id is not None:
            invoice = lock(Invoice, payment.invoice_id)
            if invoice.status == "open":
                fire(invoice, "void_invoice", actor="job:card-check", cause="card verified; nothing to capture")
