"""The database itself refuses double effects, whatever the application code does."""
from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from portal import clock
from portal.extensions import db
from portal.models import Invoice, Payment, WebhookEvent
from tests.factories import make_invoice, make_subscription


def add_and_commit(row):
    db.session.add(row)
    db.session.commit()


def test_duplicate_provider_transaction_id_is_refused(app):
    invoice = make_invoice()
    add_and_commit(Payment(provider="cloudpayments", provider_transaction_id="777", invoice_id=invoice.id,
                           amount=29900, currency="RUB", status="completed"))
    with pytest.raises(IntegrityError, match="uq_payments_provider_transaction"):
        add_and_commit(Payment(provider="cloudpayments", provider_transaction_id="777", invoice_id=invoice.id,
                               amount=29900, currency="RUB", status="completed"))
    db.session.rollback()


def test_same_transaction_id_at_another_provider_is_a_different_payment(app):
    invoice = make_invoice()
    for provider in ("cloudpayments", "otherpay"):
        add_and_commit(Payment(provider=provider, provider_transaction_id="777", invoice_id=invoice.id,
                               amount=29900, currency="RUB", status="completed"))
    assert db.session.query(Payment).count() == 2


def test_second_renewal_invoice_for_the_same_period_is_refused(app):
    sub = make_subscription(status="active")
    renewal = dict(subscription_id=sub.id, customer_id=sub.customer_id, kind="renewal", amount=29900,
                   currency="RUB", period_start=sub.current_period_end,
                   period_end=sub.current_period_end + timedelta(days=30))
    add_and_commit(Invoice(**renewal))
    with pytest.raises(IntegrityError, match="uq_invoices_renewal_period"):
        add_and_commit(Invoice(**renewal))
    db.session.rollback()


def test_renewal_invoices_for_successive_periods_are_allowed(app):
    sub = make_subscription(status="active")
    start = sub.current_period_end
    for n in range(2):
        add_and_commit(Invoice(subscription_id=sub.id, customer_id=sub.customer_id, kind="renewal", amount=29900,
                               currency="RUB", period_start=start + timedelta(days=30 * n),
                               period_end=start + timedelta(days=30 * (n + 1))))


def test_notification_is_stored_once_but_forgeries_never_take_its_key(app):
    def event(status):
        return WebhookEvent(provider="cloudpayments", kind="pay", transaction_id="901", status=status, body=b"x")

    add_and_commit(event("rejected"))
    add_and_commit(event("rejected"))
    add_and_commit(event("received"))
    with pytest.raises(IntegrityError, match="uq_webhook_events_notification"):
        add_and_commit(event("received"))
    db.session.rollback()


@pytest.mark.parametrize("field,value", [("amount", -1), ("status", "lost"), ("kind", "bonus"),
                                         ("amount_refunded", 30000)])
def test_invoice_rejects_impossible_values(app, field, value):
    invoice = make_invoice(amount=29900)
    setattr(invoice, field, value)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_naive_datetimes_are_refused(app):
    invoice = make_invoice()
    invoice.period_start = clock.now().replace(tzinfo=None)
    with pytest.raises(Exception, match="naive"):
        db.session.commit()
    db.session.rollback()
