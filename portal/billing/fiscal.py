"""The fiscal receipt of each payment and refund after the money moved: expected when billing records it,
registered (or failed) when the provider's till answers — posted to us (CloudPayments' Receipt
notification) or polled (YooKassa) — and overdue ones put in front of staff."""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_, select

from portal import clock
from portal.billing.errors import N_, NotAllowed, NotYetKnown, Status
from portal.billing.receipts import income_receipt, needs_receipt, return_receipt, seller
from portal.extensions import db
from portal.machines import atomic, fire, lock
from portal.models import FiscalReceipt, Payment, Refund
from portal.providers import enabled_providers, get_provider
from portal.providers.receipt import FiscalAnswer, FiscalStatus, ReceiptKind
from portal.queue import enqueue, enqueue_after_commit

log = logging.getLogger(__name__)

# A till registers in seconds to minutes; a receipt not back after this is in the staff review queue.
RECEIPT_DEADLINE = timedelta(minutes=15)
# How long a YooKassa receipt is polled before it is left to staff (the review queue lists it).
POLL_FOR = timedelta(hours=24)
POLL_JOB = "workers.payments.poll_receipt"


def expect_income(payment: Payment, invoice) -> FiscalReceipt | None:
    """In the caller's transaction: the приход receipt a completed payment's till owes us, once."""
    if invoice is None or payment.status != "completed" or not needs_receipt(invoice) or seller() is None:
        return None
    if payment not in db.session.new:  # a payment recorded before (its confirm) may have its receipt already
        with db.session.no_autoflush:
            existing = db.session.scalar(select(FiscalReceipt).where(
                FiscalReceipt.payment_id == payment.id, FiscalReceipt.kind == ReceiptKind.INCOME))
        if existing is not None:
            return existing
    receipt = income_receipt(invoice)
    return _expect(payment, None, ReceiptKind.INCOME, payment.amount, _wire(payment.provider, receipt))


def expect_return(refund: Refund, payment: Payment) -> FiscalReceipt | None:
    """In the caller's transaction: the возврат прихода receipt of a succeeded refund, once."""
    if payment.invoice is None or db.session.scalar(
            select(FiscalReceipt.id).where(FiscalReceipt.refund_id == refund.id)) is not None:
        return None
    receipt = return_receipt(payment.invoice, refund.amount)
    if receipt is None:
        return None
    return _expect(payment, refund, ReceiptKind.INCOME_RETURN, refund.amount, _wire(payment.provider, receipt))


def _wire(provider_name: str, receipt):
    try:
        return get_provider(provider_name).receipt_payload(receipt)
    except Exception as error:  # a provider no longer enabled: the receipt is still expected
        log.info("receipt payload for %s not kept: %s", provider_name, error)
        return None


def _expect(payment, refund, kind, amount, sent) -> FiscalReceipt:
    row = FiscalReceipt(provider=payment.provider, kind=kind, status=FiscalStatus.PENDING, payment=payment,
                        refund=refund, amount=amount, currency=payment.currency, sent=sent, attempts=0)
    db.session.add(row)
    if get_provider(payment.provider).polls_receipts:
        db.session.flush()  # the poll job needs the row's id
        enqueue_after_commit(db.session(), POLL_JOB, row.id, job_id=f"poll-receipt-{row.id}-0")
    return row


def record_answer(answer: FiscalAnswer, *, actor: str, cause: str) -> FiscalReceipt:
    """In the caller's transaction: what the till said about one receipt. A repeat changes nothing; a
    receipt we did not expect (a payment held for review, a refund made in the provider's cabinet) is
    recorded all the same, because the till registered it."""
    row = _row_for(answer)
    if answer.status == FiscalStatus.REGISTERED and row.status != FiscalStatus.REGISTERED:
        fire(row, "register", actor=actor, cause=cause, **_fiscal(answer))
    elif answer.status == FiscalStatus.FAILED and row.status == FiscalStatus.PENDING:
        fire(row, "fail", actor=actor, cause=cause, failure=answer.failure or "registration failed",
             provider_receipt_id=answer.provider_receipt_id)
    return row


def _fiscal(answer: FiscalAnswer) -> dict:
    return {name: getattr(answer, name) for name in (
        "provider_receipt_id", "fiscal_storage_number", "fiscal_document_number", "fiscal_sign",
        "register_number", "registered_at", "url", "qr")}


def _row_for(answer: FiscalAnswer) -> FiscalReceipt:
    if answer.provider_receipt_id:
        row = db.session.scalar(select(FiscalReceipt).where(
            FiscalReceipt.provider == answer.provider, FiscalReceipt.provider_receipt_id == answer.provider_receipt_id)
            .with_for_update())
        if row is not None:
            return row
    refund = None
    if answer.kind == ReceiptKind.INCOME_RETURN and answer.refund_id:
        refund = db.session.scalar(select(Refund).where(Refund.provider == answer.provider,
                                                        Refund.provider_refund_id == str(answer.refund_id)))
    payment = refund.payment if refund is not None else db.session.scalar(select(Payment).where(
        Payment.provider == answer.provider, Payment.provider_transaction_id == str(answer.payment_transaction_id)))
    if payment is None and answer.kind == ReceiptKind.INCOME_RETURN:
        # CloudPayments may name the refund's transaction where the payment's is expected (unconfirmed).
        refund = db.session.scalar(select(Refund).where(
            Refund.provider == answer.provider, Refund.provider_refund_id == str(answer.payment_transaction_id)))
        payment = refund.payment if refund is not None else None
    if payment is None:
        raise NotYetKnown(f"receipt {answer.provider_receipt_id} of transaction {answer.payment_transaction_id}, "
                          "which is not recorded yet")
    query = select(FiscalReceipt).where(FiscalReceipt.payment_id == payment.id, FiscalReceipt.kind == answer.kind)
    if refund is not None:
        query = query.where(FiscalReceipt.refund_id == refund.id)
    elif answer.kind == ReceiptKind.INCOME_RETURN:
        # A return named only by its payment: the oldest return receipt of that amount still waiting.
        query = query.where(FiscalReceipt.status != FiscalStatus.REGISTERED,
                            FiscalReceipt.amount == answer.amount_minor).order_by(FiscalReceipt.id)
    row = db.session.scalar(query.limit(1).with_for_update())
    if row is None:
        row = FiscalReceipt(provider=answer.provider, kind=answer.kind, status=FiscalStatus.PENDING, payment=payment,
                            refund=refund, amount=answer.amount_minor or payment.amount, currency=payment.currency,
                            attempts=0)
        db.session.add(row)
        db.session.flush()
    return row


def poll_receipt(receipt_id: int) -> str:
    """Job body: ask a polling provider (YooKassa) how a pending receipt stands, once; the receipts tick
    asks again while the till works."""
    row = db.session.get(FiscalReceipt, receipt_id)
    if row is None or row.status != FiscalStatus.PENDING:
        return "nothing to poll"
    provider = get_provider(row.provider)
    payment_id = row.payment.provider_transaction_id
    refund_id = row.refund.provider_refund_id if row.refund is not None else None
    kind, refused = row.kind, row.provider_receipt_id  # a retried receipt: the till's earlier refusal
    db.session.rollback()  # no transaction left open while the provider is asked
    answers = [a for a in provider.receipt_answers(payment_id, refund_id)
               if a.kind == kind and (refund_id is None or a.refund_id == refund_id)]
    final = next((a for a in answers if a.status == FiscalStatus.REGISTERED), None) or next(
        (a for a in answers if a.status == FiscalStatus.FAILED and a.provider_receipt_id != refused), None)
    with atomic():
        row = lock(FiscalReceipt, receipt_id)
        row.attempts = (row.attempts or 0) + 1
        if final is not None and row.status == FiscalStatus.PENDING:
            record_answer(final, actor="job:receipts", cause=f"{provider.name} receipt {final.provider_receipt_id}")
        return row.status


def polls_due(now=None) -> int:
    """Tick: a poll job for every pending receipt of a polling provider younger than POLL_FOR (older ones
    wait in the review queue for staff)."""
    now = now or clock.now()
    polling = [name for name, provider in enabled_providers().items() if provider.polls_receipts]
    ids = db.session.scalars(select(FiscalReceipt.id).where(
        FiscalReceipt.status == FiscalStatus.PENDING, FiscalReceipt.provider.in_(polling),
        FiscalReceipt.created_at > now - POLL_FOR)).all()
    minute = int(now.timestamp() // 60)
    for receipt_id in ids:
        enqueue(POLL_JOB, receipt_id, job_id=f"poll-receipt-{receipt_id}-{minute}")
    return len(ids)


RETRY_JOB = "workers.payments.retry_receipt"


def request_retry(receipt_id: int, *, actor: str) -> None:
    """Staff ask the till again for a receipt it refused (in the caller's transaction; a job sends it)."""
    row = lock(FiscalReceipt, receipt_id)
    if row.status != FiscalStatus.FAILED:
        raise NotAllowed(N_("Receipt #%(id)s is %(status)s: only a failed receipt is asked for again.", id=row.id,
                            status=Status("receipt", str(row.status))))
    if not get_provider(row.provider).registers_receipts:
        raise NotAllowed(N_("%(provider)s registers receipts only with the payment: ask its cabinet.",
                            provider=row.provider))
    fire(row, "retry", actor=actor, cause=f"receipt #{row.id} asked again (was: {row.failure})")
    enqueue_after_commit(db.session(), RETRY_JOB, row.id, job_id=f"retry-receipt-{row.id}-{row.attempts}")


def retry_receipt(receipt_id: int) -> str:
    """Job body: the receipt built again from its invoice, asked of the till with a stable key, its answer
    recorded (a pending one is polled like any other)."""
    row = db.session.get(FiscalReceipt, receipt_id)
    if row is None or row.status != FiscalStatus.PENDING:
        return "nothing to retry"
    payment, refund = row.payment, row.refund
    receipt = (income_receipt(payment.invoice) if refund is None
               else return_receipt(payment.invoice, refund.amount))
    provider = get_provider(row.provider)
    args = (payment.provider_transaction_id, receipt)
    refund_id = refund.provider_refund_id if refund is not None else None
    key = f"receipt-{row.id}-attempt-{row.attempts}"
    db.session.rollback()  # no transaction left open while the provider is asked
    answer = provider.register_receipt(*args, refund_id=refund_id, request_id=key)
    with atomic():
        row = lock(FiscalReceipt, receipt_id)
        if answer.status != FiscalStatus.PENDING:
            record_answer(answer, actor="job:receipts", cause=f"{provider.name} receipt {answer.provider_receipt_id}")
        return row.status


def overdue(now=None) -> list[FiscalReceipt]:
    """Receipts staff must look at: failed, or not registered within RECEIPT_DEADLINE."""
    now = now or clock.now()
    return db.session.scalars(select(FiscalReceipt).where(or_(
        FiscalReceipt.status == FiscalStatus.FAILED,
        (FiscalReceipt.status == FiscalStatus.PENDING) & (FiscalReceipt.created_at <= now - RECEIPT_DEADLINE)))
        .order_by(FiscalReceipt.created_at, FiscalReceipt.id)).all()


def receipts_of(payment_id: int) -> list[FiscalReceipt]:
    return db.session.scalars(select(FiscalReceipt).where(FiscalReceipt.payment_id == payment_id)
                              .order_by(FiscalReceipt.id)).all()


def receipt_number(receipts: list[FiscalReceipt]) -> str | None:
    """What a payment's receipt is numbered by: its sale receipt's number (none without a till's receipt)."""
    return next((r.number for r in receipts if r.kind == ReceiptKind.INCOME), None)
