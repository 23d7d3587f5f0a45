"""Cancel at period end (and undo), cancel now with a prorated refund, refunds made at the provider."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.billing import notifications
from portal.billing.cancellation import refund_if_cancelled_now, request_cancel, request_undo_cancel
from portal.billing.errors import NotAllowed
from portal.extensions import db
from portal.models import Invoice, OutboxMessage, Payment, Refund, WebhookEvent
from tests.flows.test_renewals import paid_subscription, reload, renewal_invoices
from workers import ticks

TYPE_REFUND = 1  # the provider's operation type number for a refund transaction (0 payment, 2 payout)


def events():
    return db.session.scalars(select(OutboxMessage.routing_key).order_by(OutboxMessage.id)).all()


def test_cancel_at_period_end_keeps_access_can_be_undone_and_ends_at_period_end(billing):
    sub = paid_subscription(billing)
    request_cancel(sub.id, "period_end", actor="customer:1", cause="test")
    billing.work()
    sub = reload(sub)
    assert (sub.status, sub.cancel_at_period_end) == ("active", True)

    request_undo_cancel(sub.id, actor="customer:1", cause="changed my mind")
    billing.work()
    assert reload(sub).cancel_at_period_end is False

    request_cancel(sub.id, "period_end", actor="customer:1", cause="test")
    billing.work()
    clock.freeze(reload(sub).current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()

    sub = reload(sub)
    assert sub.status == "canceled"
    assert renewal_invoices(sub.id) == []  # nothing charged
    assert db.session.scalars(select(Refund)).all() == []
    assert events()[-1] == "subscription.canceled"


def test_cancel_now_refunds_the_unused_days_rounded_down(billing):
    sub = paid_subscription(billing)
    start, end = sub.current_period_start, sub.current_period_end
    clock.freeze(start + timedelta(days=10, hours=5))
    total_days = round((end - start).total_seconds() / 86400)
    unused_days = int((end - clock.now()).total_seconds() // 86400)
    expected = 29900 * unused_days // total_days
    assert refund_if_cancelled_now(sub) == expected

    request_cancel(sub.id, "now", actor="customer:1", cause="test")
    billing.work()
    billing.work()  # the provider's Refund notification comes back and changes nothing more
    billing.assert_no_failed_jobs()

    sub = reload(sub)
    assert sub.status == "canceled"
    [refund] = db.session.scalars(select(Refund)).all()
    assert (refund.status, refund.amount, refund.requested_by) == ("succeeded", expected, "customer:1")
    [payment] = db.session.scalars(select(Payment)).all()
    assert payment.amount_refunded == expected
    invoice = db.session.get(Invoice, payment.invoice_id)
    assert (invoice.status, invoice.amount_refunded) == ("paid", expected)
    refunds_at_provider = [t for t in billing.sandbox("GET", "/transactions").json() if t["Type"] == TYPE_REFUND]
    assert [round(t["Amount"] * 100) for t in refunds_at_provider] == [expected]
    assert events()[-2:] == ["subscription.canceled", "refund.succeeded"]


def test_cancel_of_a_canceled_subscription_is_refused(billing):
    sub = paid_subscription(billing)
    request_cancel(sub.id, "now", actor="customer:1", cause="test")
    billing.work()
    with pytest.raises(NotAllowed):
        request_cancel(sub.id, "now", actor="customer:1", cause="again")


def test_refund_made_at_the_provider_is_recorded_and_a_full_one_ends_access(billing):
    sub = paid_subscription(billing)
    [payment] = db.session.scalars(select(Payment)).all()
    response = billing.sandbox("POST", f"/payments/{payment.provider_transaction_id}/refund",
                               json={"Amount": 299.00}, auth=_auth())
    assert response.status_code == 200, response.text
    billing.work()
    billing.assert_no_failed_jobs()

    db.session.expire_all()
    [refund] = db.session.scalars(select(Refund)).all()
    assert (refund.status, refund.amount, refund.requested_by) == ("succeeded", 29900, "provider")
    assert db.session.get(Invoice, payment.invoice_id).status == "refunded"
    assert reload(sub).status == "canceled"


def test_refund_notification_before_its_payment_is_processed_waits_and_lands(billing):
    from tests.factories import make_customer, make_plan

    make_plan(code="monthly")
    sub, invoice, params = billing.checkout(make_customer(), "monthly")
    outcome = billing.pay(params)  # Pay stored, its job not run yet
    response = billing.sandbox("POST", f"/payments/{outcome['TransactionId']}/refund", json={"Amount": 100.00},
                               auth=_auth())
    assert response.status_code == 200, response.text

    refund_event = db.session.scalars(select(WebhookEvent).where(WebhookEvent.kind == "refund")).one()
    with pytest.raises(Exception, match="not recorded yet"):
        notifications.process(refund_event.id)
    db.session.refresh(refund_event)
    assert refund_event.status == "received" and "not recorded yet" in refund_event.error

    billing.work()
    billing.work()
    db.session.expire_all()
    assert reload(sub).status == "active"
    [refund] = db.session.scalars(select(Refund)).all()
    assert (refund.status, refund.amount) == ("succeeded", 10000)
    assert db.session.get(Invoice, invoice.id).amount_refunded == 10000
    assert db.session.get(WebhookEvent, refund_event.id).status == "processed"


def _auth():
    from tests.conftest import SANDBOX_PUBLIC_ID, SANDBOX_SECRET

    return (SANDBOX_PUBLIC_ID, SANDBOX_SECRET)
