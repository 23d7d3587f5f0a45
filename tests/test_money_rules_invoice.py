"""The invoice lifecycle (portal/machines/invoice.py) run fast with every record read back: the legal and illegal
tables, paid_at and voided_at, the retry cleared, failed attempts counted, refunds up to what was paid."""
from datetime import UTC, datetime, timedelta

import pytest

from portal import clock
from portal.extensions import db
from portal.machines import atomic, fire
from portal.models import Invoice
from tests.lifecycle_rules import NOW, invoice_row, refused, run, subscription, timeline
from tests.test_machines import INVOICE_ILLEGAL, INVOICE_LEGAL


@pytest.fixture
def frozen(app):
    clock.freeze(NOW)
    yield NOW


def test_every_legal_invoice_transition_lands_with_its_timeline_row(app):
    for source, event, refunded, args, target, refunded_after in INVOICE_LEGAL:
        invoice = run(invoice_row(status=source, amount=29900, amount_refunded=refunded), event, **args)
        assert (invoice.status, invoice.amount_refunded) == (target, refunded_after), (source, event)
        assert timeline(invoice) == [(source, target, event)]


def test_every_illegal_invoice_event_is_refused_and_changes_nothing(app):
    for case in INVOICE_ILLEGAL:
        source, event, args = case[0], case[1], (case[2] if len(case) > 2 else {"amount": 100})
        refused(invoice_row(status=source, amount=29900), event, **args)


def test_paying_an_invoice_records_when_clears_the_retry_and_sets_the_period_given(frozen):
    invoice = invoice_row(status="open")
    invoice.next_attempt_at, invoice.period_start, invoice.period_end = NOW + timedelta(days=1), None, None
    db.session.commit()
    start, end = NOW, datetime(2027, 4, 10, 12, 0, tzinfo=UTC)
    invoice = run(invoice, "pay", period_start=start, period_end=end)
    assert (invoice.paid_at, invoice.next_attempt_at, invoice.period_start, invoice.period_end) == (
        NOW, None, start, end)
    # Without a period, the invoice keeps the one it was made for.
    kept = invoice_row(status="open")
    period_start, period_end = kept.period_start, kept.period_end
    kept = run(kept, "pay")
    assert (kept.paid_at, kept.period_start, kept.period_end) == (NOW, period_start, period_end)


def test_voiding_an_invoice_records_when_and_clears_the_retry(frozen):
    invoice = invoice_row(status="open")
    invoice.next_attempt_at = NOW + timedelta(days=2)
    db.session.commit()
    invoice = run(invoice, "void_invoice")
    assert (invoice.status, invoice.voided_at, invoice.next_attempt_at, invoice.paid_at) == ("void", NOW, None, None)


def test_failed_attempts_are_counted_with_their_reason_and_next_try(frozen):
    invoice = invoice_row(status="open")
    invoice = run(invoice, "record_failed_attempt", reason_code=5051, next_attempt_at=NOW + timedelta(days=1))
    assert (invoice.attempt_count, invoice.last_reason_code, invoice.next_attempt_at) == (
        1, 5051, NOW + timedelta(days=1))
    invoice = run(invoice, "record_failed_attempt", reason_code=5054, next_attempt_at=None)
    invoice = run(invoice, "record_failed_attempt", reason_code=5054, next_attempt_at=None)
    assert (invoice.attempt_count, invoice.last_reason_code, invoice.next_attempt_at) == (3, 5054, None)


def test_a_failed_attempt_on_an_invoice_made_in_the_same_transaction_counts_one(frozen):
    sub = subscription("active")
    with atomic():
        new = Invoice(subscription=sub, customer_id=sub.customer_id, kind="renewal", status="open", amount=29900,
                      currency="RUB")
        db.session.add(new)
        fire(new, "record_failed_attempt", actor="test", reason_code=5051, next_attempt_at=None)
    assert db.session.get(Invoice, new.id).attempt_count == 1


def test_refunds_of_an_invoice_accumulate_up_to_what_was_paid(app):
    invoice = invoice_row(status="paid", amount=29900, amount_refunded=10000)
    refused(invoice, "refund_partially", amount=None)
    refused(invoice, "refund_partially", amount=0)
    refused(invoice, "refund_partially", amount=-1)
    refused(invoice, "refund_partially", amount=19900)  # the whole balance is a full refund
    refused(invoice, "refund_fully", amount=19899)
    refused(invoice, "refund_fully", amount=19901)
    refused(invoice, "refund_fully", amount=None)
    invoice = run(invoice, "refund_partially", amount=1)
    assert (invoice.status, invoice.amount_refunded) == ("paid", 10001)
    invoice = run(invoice, "refund_partially", amount=19898)
    assert (invoice.status, invoice.amount_refunded) == ("paid", 29899)
    refused(invoice, "refund_partially", amount=1)
    invoice = run(invoice, "refund_fully", amount=1)
    assert (invoice.status, invoice.amount_refunded) == ("refunded", 29900)
