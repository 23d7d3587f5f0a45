"""Refunds: asked of the provider by a job, or made on the provider's side and reported by notification.
Either way one Refund row per provider refund, and the amounts move once."""
from sqlalchemy import select

from portal.billing import fiscal
from portal.billing.errors import NotYetKnown
from portal.billing.receipts import return_receipt
from portal.extensions import db
from portal.machines import atomic, fire, lock
from portal.models import Invoice, Payment, Refund, Subscription
from portal.providers import get_provider


def request_refund(payment: Payment, amount: int, *, reason: str, requested_by: str) -> Refund:
    """A pending refund, recorded now and sent to the provider by a job (call inside atomic())."""
    if amount <= 0 or amount > payment.amount - payment.amount_refunded - _pending_total(payment):
        raise ValueError(f"refund of {amount} exceeds what is refundable on payment {payment.id}")
    refund = Refund(payment_id=payment.id, provider=payment.provider, amount=amount, currency=payment.currency,
                    status="pending", reason=reason, requested_by=requested_by)
    db.session.add(refund)
    db.session.flush()
    return refund


def _pending_total(payment: Payment) -> int:
    return sum(r.amount for r in payment.refunds if r.status == "pending")


def apply_succeeded_refund(refund: Refund, provider_refund_id: str, *, actor: str, cause: str) -> None:
    """The provider refunded: the refund succeeds and the payment's and invoice's refunded amounts move."""
    payment = lock(Payment, refund.payment_id)
    fire(refund, "succeed", actor=actor, cause=cause, provider_refund_id=str(provider_refund_id))
    fire(payment, "record_refund", actor=actor, cause=cause, amount=refund.amount)
    fiscal.expect_return(refund, payment)
    if not payment.settles_invoice:
        # A held payment paid no invoice, so giving it back takes nothing from one; in full, it closes the review.
        if payment.needs_review and payment.amount_refunded == payment.amount:
            fire(payment, "refund_held", actor=actor, cause=cause, note=f"{refund.reason} (refund #{refund.id})")
        return
    if payment.invoice_id is None:
        return
    invoice = lock(Invoice, payment.invoice_id)
    if invoice.status != "paid":
        return
    balance = invoice.amount - invoice.amount_refunded
    amount = min(refund.amount, balance)
    if amount <= 0:
        return
    fire(invoice, "refund_fully" if amount == balance else "refund_partially", actor=actor, cause=cause,
         amount=amount)
    sub = lock(Subscription, invoice.subscription_id)
    # A full refund of the period the customer is in takes the period back: access ends now.
    if invoice.status == "refunded" and sub.status in ("active", "trialing", "past_due") \
            and invoice.period_end == sub.current_period_end:
        fire(sub, "cancel", actor=actor, cause=f"{cause}; the current period was refunded in full")


def refund_mismatch(payment: Payment, notification) -> str | None:
    """Why a provider's refund cannot be booked on this payment: its currency, or more than is refundable."""
    currency = notification.currency
    if currency and currency != payment.currency:
        return f"refunded in {currency[:3]}, but the payment was in {payment.currency}"
    amount, left = notification.amount_minor, payment.amount - payment.amount_refunded
    if payment.status != "completed":
        return f"the payment is {payment.status}, nothing to refund"
    if amount is None or amount <= 0 or amount > left:
        return f"refund of {amount} minor units, but {left} of the payment is refundable"
    return None


def send_refund(refund_id: int) -> None:
    """Job body: ask the provider for the refund with a stable request id; a retry can't refund twice."""
    from portal.providers import request_id

    with atomic():
        refund = lock(Refund, refund_id)
        if refund.status != "pending":
            return
        payment = refund.payment
        # Money goes back through the provider that took it, whatever the default provider is now.
        provider, transaction_id, amount = payment.provider, payment.provider_transaction_id, refund.amount
        # The till registers a return receipt for the amount given back (built like the payment's).
        receipt = return_receipt(payment.invoice, amount) if payment.invoice is not None else None
    result = get_provider(provider).refund(transaction_id, amount, request_id=request_id("refund", refund_id),
                                           receipt=receipt)
    with atomic():
        refund = lock(Refund, refund_id)
        if refund.status == "pending":  # the Refund notification may have got here first
            apply_succeeded_refund(refund, result.refund_transaction_id, actor="job:refund",
                                   cause=f"provider refund {result.refund_transaction_id}")


def record_provider_refund(notification, *, actor: str, cause: str) -> None:
    """A Refund notification: ours coming back, or one made in the provider's cabinet."""
    provider = notification.provider
    payment = db.session.scalar(select(Payment).where(
        Payment.provider == provider, Payment.provider_transaction_id == str(notification.payment_transaction_id)))
    if payment is None:
        raise NotYetKnown(f"refund {notification.transaction_id} of payment "
                          f"{notification.payment_transaction_id}, which is not recorded yet")
    payment = lock(Payment, payment.id)
    refund = db.session.scalar(select(Refund).where(
        Refund.provider == provider, Refund.provider_refund_id == str(notification.transaction_id)))
    if refund is not None:
        return
    mismatch = refund_mismatch(payment, notification)
    if mismatch is not None:
        # Money went back at the provider in a way we cannot book (another currency, more than was paid):
        # nothing is applied as if it were ours; the payment goes in front of staff with what happened.
        if payment.status not in ("pending", "authorized", "completed"):
            raise ValueError(f"refund {notification.transaction_id}: {mismatch}")
        fire(payment, "hold_for_review", actor=actor, cause=cause,
             reason=f"refund {str(notification.transaction_id)[:64]} at the provider not applied: {mismatch}")
        return
    refund = db.session.scalar(select(Refund).where(
        Refund.payment_id == payment.id, Refund.status == "pending", Refund.amount == notification.amount_minor,
        Refund.provider_refund_id.is_(None)).order_by(Refund.id).limit(1).with_for_update())
    if refund is None:
        refund = Refund(payment_id=payment.id, provider=provider, amount=notification.amount_minor,
                        currency=payment.currency, status="pending", reason="refunded at the provider",
                        requested_by="provider")
        db.session.add(refund)
        db.session.flush()
    apply_succeeded_refund(refund, notification.transaction_id, actor=actor, cause=cause)
