"""The staff review queue: payments that settled nothing of ours (paid twice, another amount, currency or
customer, no invoice of ours), and the three ways staff resolve one: refund it, attach it to the invoice it
was meant for, or dismiss it with a note. Each resolution is a payment transition on the timeline. Fiscal
receipts that failed or are late are listed beside them."""
from sqlalchemy import func, select

from portal.billing import payments, refunds
from portal.billing.errors import N_, InvalidRequest, NotAllowed, NotFound, Status
from portal.extensions import db
from portal.machines import atomic, fire, lock
from portal.models import Invoice, Payment, Refund, Subscription
from portal.models.subscription import ENDED_STATUSES

RESOLUTIONS = ("refund", "attach", "dismiss")
RECENTLY_RESOLVED = 20


def held_payments() -> list[Payment]:
    """Every payment needing review, oldest first: the queue staff work through."""
    return db.session.scalars(select(Payment).where(Payment.needs_review.is_(True))
                              .order_by(Payment.created_at, Payment.id)).all()


def receipts_to_review() -> list:
    """Fiscal receipts staff must look at: failed at the till, or not back within the deadline."""
    from portal.billing.fiscal import overdue

    return overdue()


def held_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Payment).where(Payment.needs_review.is_(True)))


def recently_resolved(limit: int = RECENTLY_RESOLVED) -> list[Payment]:
    """Reviews closed lately, automatic refunds of second charges among them."""
    return db.session.scalars(select(Payment).where(Payment.review_resolution.is_not(None))
                              .order_by(Payment.id.desc()).limit(limit)).all()


def held(payment_id: int) -> Payment:
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise NotFound(f"payment {payment_id} does not exist")
    if not payment.needs_review:
        if payment.review_resolution:
            raise NotAllowed(N_("Payment #%(id)s does not need review (it was %(resolution)s).", id=payment.id,
                                resolution=payment.review_resolution))
        raise NotAllowed(N_("Payment #%(id)s does not need review.", id=payment.id))
    return payment


def refundable_now(payment: Payment) -> int:
    pending = sum(r.amount for r in payment.refunds if r.status == "pending")
    return payment.amount - payment.amount_refunded - pending if payment.status == "completed" else 0


def refund_check(payment: Payment) -> None:
    if payment.status != "completed":
        raise NotAllowed(N_("Payment #%(id)s is %(status)s: only a completed payment can be refunded.",
                            id=payment.id, status=Status("payment", payment.status)))
    if refundable_now(payment) <= 0:
        raise NotAllowed(N_("Payment #%(id)s is being refunded already.", id=payment.id))


def attach_check(payment: Payment, invoice_id: int | None) -> Invoice:
    """The invoice a held payment can pay: open, for the same amount and currency, its subscription live."""
    if payment.status != "completed":
        raise NotAllowed(N_("Payment #%(id)s is %(status)s: only a completed payment pays an invoice.",
                            id=payment.id, status=Status("payment", payment.status)))
    invoice = db.session.get(Invoice, invoice_id) if invoice_id and 0 < invoice_id < 2**63 else None
    if invoice is None:
        raise InvalidRequest(N_("Name the invoice this payment was meant for (its number)."))
    if invoice.status != "open":
        raise InvalidRequest(N_("Invoice #%(id)s is %(status)s: only an open invoice can be paid.", id=invoice.id,
                                status=Status("invoice", invoice.status)))
    if (invoice.amount, invoice.currency) != (payment.amount, payment.currency):
        raise InvalidRequest(N_("Invoice #%(id)s is for %(amount)s %(currency)s; the payment is %(paid)s "
                                "%(paid_currency)s.", id=invoice.id, amount=invoice.amount,
                                currency=invoice.currency, paid=payment.amount, paid_currency=payment.currency))
    if invoice.subscription.status in ENDED_STATUSES:
        raise InvalidRequest(N_("Invoice #%(id)s belongs to a %(status)s subscription.", id=invoice.id,
                                status=Status("subscription", invoice.subscription.status)))
    return invoice


def start_refund(payment_id: int, *, note: str, actor: str) -> int:
    """In the caller's transaction: the pending refund of everything left on a held payment (the review
    closes when the provider's refund succeeds)."""
    payment = lock(Payment, payment_id)
    held(payment.id)
    refund_check(payment)
    return refunds.request_refund(payment, refundable_now(payment), reason=note, requested_by=actor).id


def refund_outcome(refund_id: int) -> str:
    refund = db.session.get(Refund, refund_id)
    return N_("Refund #%(id)s of %(amount)s minor units is %(status)s.", id=refund.id, amount=refund.amount,
              status=Status("refund", refund.status))


def attach(payment_id: int, invoice_id: int, *, note: str, actor: str, cause: str) -> str:
    """The held payment pays the invoice it was meant for, as its Pay would have: one transaction."""
    with atomic():
        payment = lock(Payment, payment_id)
        if payment.review_resolution == "attached" and payment.invoice_id == invoice_id:
            return N_("Payment #%(id)s pays invoice #%(invoice)s.", id=payment.id, invoice=invoice_id)  # a rerun
        held(payment.id)
        invoice = attach_check(payment, invoice_id)
        invoice = lock(Invoice, invoice.id)
        sub = lock(Subscription, invoice.subscription_id)
        fire(payment, "attach_to_invoice", actor=actor, cause=cause, invoice=invoice, note=note)
        payments.settle_invoice(payment, invoice, sub, None, actor=actor, cause=cause)
    return N_("Payment #%(id)s pays invoice #%(invoice)s.", id=payment_id, invoice=invoice_id)


def dismiss(payment_id: int, *, note: str, actor: str, cause: str) -> str:
    with atomic():
        payment = lock(Payment, payment_id)
        if payment.review_resolution != "dismissed":
            held(payment.id)
            fire(payment, "dismiss_review", actor=actor, cause=cause, note=note)
    return N_("Payment #%(id)s is dismissed from review: %(note)s", id=payment_id, note=note)
