"""Provider trouble and two-stage payments: retryable errors retry with the same request id;
Confirm completes an authorisation, Cancel voids it."""
import time
from datetime import timedelta

from sqlalchemy import select

from portal import clock
from portal.billing.notifications import apply
from portal.extensions import db
from portal.machines import atomic
from portal.models import Invoice, Payment, Subscription
from portal.providers import EventKind, get_provider
from tests.factories import make_customer, make_plan
from tests.flows.test_renewals import paid_subscription, renewal_invoices
from workers import ticks


def test_provider_5xx_on_a_renewal_charge_is_retried_and_charges_once(billing):
    sub = paid_subscription(billing)
    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    billing.sandbox("POST", "/stats/reset")
    billing.sandbox("POST", "/control", json={"fail_next": 1})
    ticks.renewals()

    deadline = time.monotonic() + 15  # the first retry comes after a couple of seconds
    while time.monotonic() < deadline:
        billing.work()
        db.session.expire_all()
        if [invoice.status for invoice in renewal_invoices(sub.id)] == ["paid"]:
            break
        time.sleep(0.3)
    [renewal] = renewal_invoices(sub.id)

    assert db.session.get(Invoice, renewal.id).status == "paid"
    assert db.session.get(Subscription, sub.id).status == "active"
    stats = billing.sandbox("GET", "/stats").json()
    assert stats["injected_500"] == 1 and stats["api_calls"]["payments/tokens/charge"] == 2
    assert len([t for t in billing.provider_transactions(renewal.id) if t["Status"] == "Completed"]) == 1


def authorised_checkout(billing):
    """A checkout paid with an authorisation (two-stage), as a merchant using 'auth' would."""
    make_plan(code="monthly", amount=29900)
    sub, invoice, params = billing.checkout(make_customer(), "monthly")
    outcome = billing.pay({**params, "scheme": "auth"})
    assert outcome["Status"] == "Authorized"
    billing.work()
    return sub, invoice, outcome


def test_confirm_of_an_authorised_payment_pays_and_activates(billing):
    sub, invoice, outcome = authorised_checkout(billing)
    db.session.expire_all()
    [payment] = db.session.scalars(select(Payment)).all()
    assert payment.status == "authorized"
    assert db.session.get(Subscription, sub.id).status == "pending"

    billing.sandbox("POST", "/payments/confirm", json={"TransactionId": outcome["TransactionId"], "Amount": 299.00},
                    auth=(get_provider().public_id, get_provider()._api_secret))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and db.session.get(Subscription, sub.id).status != "active":
        billing.work()
        time.sleep(0.2)
        db.session.expire_all()
    assert db.session.get(Subscription, sub.id).status == "active"
    assert db.session.get(Payment, payment.id).status == "completed"
    assert db.session.get(Invoice, invoice.id).status == "paid"


def test_cancel_notification_voids_an_authorised_payment(billing):
    sub, invoice, outcome = authorised_checkout(billing)
    transaction = get_provider().get_transaction(str(outcome["TransactionId"]))
    cancel = type("Cancel", (), {"kind": "cancel", "event": EventKind.PAYMENT_VOIDED, "provider": transaction.provider,
                                 "transaction_id": transaction.transaction_id})()
    with atomic():
        apply(cancel, actor="provider", cause="test")
    [payment] = db.session.scalars(select(Payment)).all()
    assert payment.status == "voided"
    assert db.session.get(Subscription, sub.id).status == "pending"
