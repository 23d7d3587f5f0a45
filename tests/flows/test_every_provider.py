"""The billing flows once per provider, each against its own sandbox over real HTTP: the same billing,
machines and pages, only the adapter differs. Pay, trial, renewal, dunning, cancel now with a refund, a
refund made in the provider's cabinet, card replacement and plan change; every follow-up goes to the
provider that took the first payment."""
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.billing import plan_change
from portal.billing.cancellation import refund_if_cancelled_now, request_cancel
from portal.billing.cards import start_card_replacement
from portal.billing.checkout import start_checkout, widget_parameters
from portal.billing.provider_choice import set_default_provider
from portal.extensions import db
from portal.models import Invoice, Payment, PaymentMethod, Refund, Subscription, WebhookEvent
from portal.queue import billing_queue
from tests.factories import make_customer, make_plan
from tests.flows.providers import DRIVERS
from workers import ticks


@pytest.fixture(params=sorted(DRIVERS))
def provider(request, billing, live):
    """The provider new RUB checkouts pay with (as staff would choose it), and its sandbox's driver."""
    driver = DRIVERS[request.param](live)
    driver.reset()
    set_default_provider("RUB", request.param, actor="staff:test")
    db.session.commit()
    return driver


def reload(row):
    db.session.expire_all()
    return db.session.get(type(row), row.id)


def checkout(plan_code="monthly"):
    sub, invoice = start_checkout(make_customer(), plan_code)
    params = widget_parameters(invoice)
    db.session.commit()
    return sub, invoice, params


def subscribed(billing, provider, card="success", plan_code="monthly"):
    make_plan(code=plan_code, amount=29900)
    sub, _, params = checkout(plan_code)
    assert provider.pay(params, card) is True
    billing.work()
    sub = reload(sub)
    assert sub.status == "active"
    return sub


def renewal(sub):
    return db.session.scalars(select(Invoice).where(Invoice.subscription_id == sub.id, Invoice.kind == "renewal")
                              .order_by(Invoice.id.desc())).first()


def test_paying_in_the_widget_activates_and_saves_the_card_at_that_provider(billing, provider):
    sub = subscribed(billing, provider)
    billing.assert_no_failed_jobs()
    [payment] = db.session.scalars(select(Payment)).all()
    card = db.session.get(PaymentMethod, sub.payment_method_id)
    assert (payment.provider, payment.status, payment.amount) == (provider.name, "completed", 29900)
    assert card.provider == provider.name and card.card_last_four and card.card_exp
    assert [e.status for e in db.session.scalars(select(WebhookEvent))] and all(
        e.provider == provider.name and e.status == "processed" for e in db.session.scalars(select(WebhookEvent)))


def test_a_declined_first_payment_leaves_the_checkout_open_for_another_card(billing, provider):
    make_plan(code="monthly", amount=29900)
    sub, invoice, params = checkout()
    assert provider.pay(params, "declined") is False
    billing.work()
    billing.assert_no_failed_jobs()
    [payment] = db.session.scalars(select(Payment)).all()
    assert (payment.status, reload(invoice).status, reload(sub).status) == ("declined", "open", "pending")

    params = widget_parameters(reload(invoice))  # the next attempt: for YooKassa a new payment
    db.session.commit()
    assert provider.pay(params, "success") is True
    billing.work()
    assert reload(sub).status == "active"


def test_a_trial_proves_the_card_with_a_hold_that_is_released(billing, provider):
    make_plan(code="premium", amount=59900, trial_days=7)
    sub, invoice, params = checkout("premium")
    assert params["scheme"] == "auth"
    assert provider.pay(params) is True
    billing.work()
    billing.assert_no_failed_jobs()
    sub = reload(sub)
    assert sub.status == "trialing" and sub.payment_method_id is not None
    [payment] = db.session.scalars(select(Payment)).all()
    assert (payment.status, reload(invoice).status) == ("voided", "void")
    assert provider.charges_for(invoice.id) == []  # held, never captured


def test_the_renewal_charges_the_saved_card_at_its_provider(billing, provider):
    sub = subscribed(billing, provider)
    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    billing.assert_no_failed_jobs()
    invoice = renewal(sub)
    assert (reload(sub).status, invoice.status) == ("active", "paid")
    assert len(provider.charges_for(invoice.id)) == 1
    assert {p.provider for p in db.session.scalars(select(Payment))} == {provider.name}


def test_a_declined_renewal_goes_past_due_and_is_retried_on_schedule(billing, provider):
    sub = subscribed(billing, provider, card="later_declined")
    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    invoice = renewal(sub)
    assert reload(sub).status == "past_due"
    assert (invoice.attempt_count, invoice.next_attempt_at is not None) == (1, True)
    declined = db.session.scalars(select(Payment).where(Payment.status == "declined")).one()
    assert declined.provider == provider.name

    clock.freeze(invoice.next_attempt_at + timedelta(minutes=1))
    ticks.dunning()
    billing.work()
    assert reload(invoice).attempt_count == 2


def test_a_renewal_declined_for_an_expired_card_is_not_retried(billing, provider):
    if "later_expired" not in provider.cards:
        pytest.skip("this sandbox's saved cards are never declined finally; CloudPayments' never-retry codes: "
                    "tests/flows/test_renewals.py::test_never_retry_decline_stops_dunning")
    sub = subscribed(billing, provider, card="later_expired")
    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    invoice = renewal(sub)
    declined = db.session.scalars(select(Payment).where(Payment.status == "declined")).one()
    assert (reload(sub).status, invoice.attempt_count, invoice.next_attempt_at) == ("past_due", 1, None)
    assert declined.reason == "card_expired"


def test_cancelling_now_refunds_the_unused_days_through_the_provider_that_took_the_money(billing, provider):
    sub = subscribed(billing, provider)
    clock.freeze(sub.current_period_start + timedelta(days=10, hours=5))
    expected = refund_if_cancelled_now(sub)
    request_cancel(sub.id, "now", actor="customer:1", cause="test")
    billing.work()
    billing.work()  # the provider's refund notification changes nothing more
    billing.assert_no_failed_jobs()
    assert reload(sub).status == "canceled"
    [refund] = db.session.scalars(select(Refund)).all()
    assert (refund.provider, refund.status, refund.amount) == (provider.name, "succeeded", expected)
    assert provider.refunded_minor() == [expected]


def test_a_full_refund_made_in_the_providers_cabinet_is_recorded_and_ends_access(billing, provider):
    sub = subscribed(billing, provider)
    [payment] = db.session.scalars(select(Payment)).all()
    provider.refund_in_cabinet(payment.provider_transaction_id, 29900)
    wait_for_another_notification(provider, payment)
    billing.work()
    billing.assert_no_failed_jobs()
    db.session.expire_all()
    [refund] = db.session.scalars(select(Refund)).all()
    assert (refund.provider, refund.status, refund.amount, refund.requested_by) == (
        provider.name, "succeeded", 29900, "provider")
    assert db.session.get(Invoice, payment.invoice_id).status == "refunded"
    assert reload(sub).status == "canceled"


def wait_for_another_notification(provider, payment, seconds=10):
    """Until the provider has delivered a notification about something else than the payment (its refund) and
    the job that applies it is queued: the row is stored a moment before the webhook enqueues its job."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.rollback()
        if db.session.scalars(select(WebhookEvent).where(
                WebhookEvent.provider == provider.name,
                WebhookEvent.transaction_id != payment.provider_transaction_id)).first() is not None \
                and billing_queue().count:
            return
        time.sleep(0.1)
    raise AssertionError(f"no further notification from {provider.name}, or no job to apply it")


def test_a_replaced_card_renews_from_then_on(billing, provider):
    sub = subscribed(billing, provider)
    old_card = sub.payment_method_id
    check = start_card_replacement(sub)
    params = widget_parameters(check)
    db.session.commit()
    assert provider.pay(params, "another") is True
    billing.work()
    billing.assert_no_failed_jobs()
    sub = reload(sub)
    assert sub.payment_method_id != old_card
    assert db.session.get(PaymentMethod, sub.payment_method_id).provider == provider.name
    assert reload(check).status == "void"


def test_an_upgrade_charges_the_prorated_difference_on_the_saved_card(billing, provider):
    sub = subscribed(billing, provider)
    make_plan(code="premium", amount=49900)
    clock.freeze(sub.current_period_start + timedelta(days=10, hours=5))
    requested = plan_change.request_plan_change(sub.id, "premium", None, actor="customer:test", cause="test")
    db.session.commit()
    billing.work()
    billing.assert_no_failed_jobs()
    sub = reload(sub)
    assert (sub.plan.code, sub.amount) == ("premium", 49900)
    proration = db.session.scalars(select(Invoice).where(Invoice.kind == "proration")).one()
    assert (proration.status, proration.amount) == ("paid", requested.quote.amount)
    assert len(provider.charges_for(proration.id)) == 1


def test_a_default_changed_by_staff_leaves_follow_ups_with_the_provider_that_saved_the_card(billing, provider, live):
    sub = subscribed(billing, provider)
    other = next(name for name in sorted(DRIVERS) if name != provider.name)
    set_default_provider("RUB", other, actor="staff:test")
    db.session.commit()
    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    billing.assert_no_failed_jobs()
    assert renewal(sub).status == "paid"
    assert {p.provider for p in db.session.scalars(select(Payment))} == {provider.name}
    assert len(provider.charges_for(renewal(sub).id)) == 1
    assert reload(sub).status == "active" and db.session.get(Subscription, sub.id).payment_method.provider == \
        provider.name
