"""Renewals and dunning: one invoice per period, token charges, past due, retries, repay, expiry."""
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.billing.charging import request_repay
from portal.billing.checkout import widget_parameters
from portal.extensions import db
from portal.models import Invoice, OutboxMessage, Payment, Subscription, WebhookEvent
from tests.factories import make_customer, make_plan
from tests.flows.conftest import LATER_DECLINED_CARD, SUCCESS_CARD
from workers import ticks


def paid_subscription(billing, card=SUCCESS_CARD, plan_code="monthly"):
    make_plan(code=plan_code, amount=29900)
    sub, invoice, params = billing.checkout(make_customer(), plan_code)
    assert billing.pay(params, card=card)["Success"] is True
    billing.work()
    db.session.expire_all()
    sub = db.session.get(Subscription, sub.id)
    assert sub.status == "active"
    return sub


def renewal_invoices(sub_id):
    return db.session.scalars(select(Invoice).where(Invoice.subscription_id == sub_id, Invoice.kind == "renewal")
                              .order_by(Invoice.id)).all()


def reload(sub):
    db.session.expire_all()
    return db.session.get(Subscription, sub.id)


def events():
    return db.session.scalars(select(OutboxMessage.routing_key).order_by(OutboxMessage.id)).all()


def test_renewal_charges_the_saved_card_once_and_renews(billing):
    sub = paid_subscription(billing)
    first_end = sub.current_period_end
    clock.freeze(first_end + timedelta(minutes=1))

    ticks.renewals()
    ticks.renewals()  # a second tick (or a second cron process) must not make a second invoice
    billing.work()
    billing.assert_no_failed_jobs()

    sub = reload(sub)
    assert sub.status == "active"
    assert sub.current_period_start == first_end and sub.current_period_end > first_end
    [renewal] = renewal_invoices(sub.id)
    assert (renewal.status, renewal.period_start, renewal.amount) == ("paid", first_end, 29900)
    charges = [t for t in billing.provider_transactions(renewal.id) if t["Status"] == "Completed"]
    assert len(charges) == 1
    assert events()[-2:] == ["payment.succeeded", "subscription.renewed"]

    # The provider's Pay notification for the same charge comes too, and converges on the same payment.
    billing.wait_for_notification("pay", charges[0]["TransactionId"])
    billing.work()
    db.session.expire_all()
    assert [p.provider_transaction_id for p in db.session.scalars(
        select(Payment).where(Payment.invoice_id == renewal.id))] == [str(charges[0]["TransactionId"])]
    [stored] = db.session.scalars(select(WebhookEvent).where(
        WebhookEvent.transaction_id == str(charges[0]["TransactionId"]))).all()
    assert stored.status == "processed"


def test_failed_renewal_goes_past_due_retries_and_expires_when_exhausted(billing):
    sub = paid_subscription(billing, card=LATER_DECLINED_CARD)
    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()

    sub = reload(sub)
    [renewal] = renewal_invoices(sub.id)
    assert sub.status == "past_due"
    assert (renewal.status, renewal.attempt_count, renewal.last_reason_code) == ("open", 1, 5051)
    assert renewal.next_attempt_at == clock.now() + timedelta(days=1)
    assert "subscription.past_due" in events()

    for day, attempts in ((1, 2), (3, 3), (5, 4)):
        clock.freeze(renewal.dunning_ends_at - timedelta(days=5) + timedelta(days=day, minutes=1))
        ticks.dunning()
        billing.work()
        db.session.expire_all()
        renewal = db.session.get(Invoice, renewal.id)
        assert renewal.attempt_count == attempts

    sub = reload(sub)
    assert sub.status == "expired"
    assert db.session.get(Invoice, renewal.id).status == "void"
    assert events()[-1] == "subscription.expired"
    declined = [t for t in billing.provider_transactions(renewal.id) if t["Status"] == "Declined"]
    assert len(declined) == 4


def test_dunning_waits_for_the_next_retry_time(billing):
    sub = paid_subscription(billing, card=LATER_DECLINED_CARD)
    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    clock.advance(timedelta(hours=12))
    ticks.dunning()
    ticks.renewals()
    billing.work()
    [renewal] = renewal_invoices(sub.id)
    db.session.refresh(renewal)
    assert renewal.attempt_count == 1


def test_past_due_customer_pays_with_a_new_card_and_is_active_again(billing):
    sub = paid_subscription(billing, card=LATER_DECLINED_CARD)
    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    [renewal] = renewal_invoices(sub.id)

    # "Pay now" with the saved card declines again and counts as an attempt...
    request_repay(sub.id, actor="customer:1")
    billing.work()
    db.session.refresh(renewal)
    assert (renewal.status, renewal.attempt_count) == ("open", 2)

    # ...so the customer pays the renewal invoice with another card through the widget.
    params = widget_parameters(renewal)
    db.session.commit()
    assert billing.pay(params, card=SUCCESS_CARD)["Success"] is True
    billing.work()

    sub = reload(sub)
    assert sub.status == "active" and sub.current_period_end == renewal.period_end
    assert db.session.get(Invoice, renewal.id).status == "paid"
    assert sub.payment_method.card_last_four == "3055"  # later renewals use the card that works
    assert events()[-1] == "subscription.renewed"


def test_never_retry_decline_stops_dunning(billing, app):
    sub = paid_subscription(billing)
    # The sandbox cannot decline a good card with a never-retry code, so the provider's answer is
    # delivered as its Fail notification would carry it, through the same service.
    from portal.billing import payments
    from portal.machines import atomic
    from portal.providers import Notification

    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    from portal.billing.renewals import open_renewal

    invoice_id = open_renewal(sub.id)
    fail = Notification(kind="fail", transaction_id="990001", amount_minor=29900, currency="RUB",
                        invoice_id=str(invoice_id), account_id=None, email=None, status=None,
                        operation_type="payment", reason="Do not honor", reason_code=5005, token=None,
                        card_first_six=None, card_last_four=None, card_type=None, card_exp=None,
                        payment_transaction_id=None, occurred_at=clock.now(), test_mode=True, data={}, raw={},
                        provider="cloudpayments")
    with atomic():
        payments.record_decline(fail, actor="provider", cause="test", retry_allowed=False)

    renewal = db.session.get(Invoice, invoice_id)
    assert reload(sub).status == "past_due"
    assert renewal.next_attempt_at is None
    clock.advance(timedelta(days=2))
    ticks.dunning()
    billing.work()
    assert [p.provider_transaction_id for p in db.session.scalars(select(Payment).where(
        Payment.invoice_id == invoice_id))] == ["990001"]
    assert reload(sub).status == "past_due"
    clock.advance(timedelta(days=4))
    ticks.dunning()
    billing.work()
    assert reload(sub).status == "expired"


@pytest.mark.parametrize("card", [SUCCESS_CARD])
def test_trial_converts_to_a_paid_period_at_trial_end(billing, card):
    make_plan(code="premium", amount=59900, trial_days=7)
    sub, invoice, params = billing.checkout(make_customer(), "premium")
    assert billing.pay(params, card=card)["Success"] is True
    billing.work()
    sub = reload(sub)
    assert sub.status == "trialing"

    clock.freeze(sub.trial_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    billing.assert_no_failed_jobs()
    sub = reload(sub)
    assert sub.status == "active" and sub.current_period_start == sub.trial_end
    [renewal] = renewal_invoices(sub.id)
    assert (renewal.status, renewal.amount) == ("paid", 59900)


@pytest.mark.parametrize("card_problem", ["unknown to the provider", "no saved card"])
def test_renewal_that_cannot_be_charged_goes_past_due_without_retries(billing, card_problem):
    sub = paid_subscription(billing)
    if card_problem == "no saved card":
        sub.payment_method_id = None
    else:
        sub.payment_method.token = "tk_the_provider_never_issued"
    db.session.commit()
    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    billing.assert_no_failed_jobs()

    sub = reload(sub)
    [renewal] = renewal_invoices(sub.id)
    assert sub.status == "past_due"
    assert (renewal.status, renewal.attempt_count, renewal.next_attempt_at) == ("open", 1, None)
    assert db.session.scalars(select(Payment).where(Payment.invoice_id == renewal.id)).all() == []
    clock.advance(timedelta(days=5, minutes=1))
    ticks.dunning()
    billing.work()
    assert reload(sub).status == "expired"


def test_a_subscription_started_on_the_31st_renews_at_each_month_end_without_drifting(billing):
    clock.freeze(datetime(2027, 1, 31, 12, 0, tzinfo=UTC))
    sub = paid_subscription(billing)
    assert sub.billing_anchor == datetime(2027, 1, 31, 12, 0, tzinfo=UTC)
    ends = [sub.current_period_end]
    for _ in range(2):
        clock.freeze(sub.current_period_end + timedelta(minutes=1))
        ticks.renewals()
        billing.work()
        billing.assert_no_failed_jobs()
        sub = reload(sub)
        assert sub.status == "active"
        ends.append(sub.current_period_end)
    assert [end.date() for end in ends] == [date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30)]
    assert [(i.period_start.date(), i.period_end.date()) for i in renewal_invoices(sub.id)] == [
        (date(2027, 2, 28), date(2027, 3, 31)), (date(2027, 3, 31), date(2027, 4, 30))]


def test_a_trial_anchors_the_paid_periods_on_its_end(billing):
    clock.freeze(datetime(2027, 1, 24, 9, 0, tzinfo=UTC))
    make_plan(code="premium", amount=59900, trial_days=7)
    sub, invoice, params = billing.checkout(make_customer(), "premium")
    assert billing.pay(params, card=SUCCESS_CARD)["Success"] is True
    billing.work()
    sub = reload(sub)
    assert sub.status == "trialing" and sub.billing_anchor == sub.trial_end == datetime(2027, 1, 31, 9, 0, tzinfo=UTC)
    clock.freeze(sub.trial_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    sub = reload(sub)
    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    sub = reload(sub)
    assert (sub.status, sub.current_period_start.date(), sub.current_period_end.date()) == (
        "active", date(2027, 2, 28), date(2027, 3, 31))
