"""Change plan through real sandbox token charges: an upgrade charges the prorated difference on the saved
card (or in the widget when the card declines) and switches only once paid; monthly -> yearly starts a new
yearly period for the year less the unused credit; a downgrade waits for the period end, can be undone, and
the renewal bills the new plan."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.billing import plan_change, proration
from portal.billing.checkout import widget_parameters
from portal.billing.errors import InvalidRequest, NotAllowed
from portal.extensions import db
from portal.models import Invoice, OutboxMessage, Subscription
from tests.factories import make_customer, make_plan
from tests.flows.conftest import LATER_DECLINED_CARD, SUCCESS_CARD
from tests.published import published
from workers import ticks

ACTOR = "customer:test"


def subscribed(billing, plan_code="monthly", amount=29900, card=SUCCESS_CARD, unit="month"):
    make_plan(code=plan_code, amount=amount, interval_unit=unit)
    sub, _, params = billing.checkout(make_customer(), plan_code)
    assert billing.pay(params, card=card)["Success"] is True
    billing.work()
    sub = reload(sub)
    assert sub.status == "active"
    return sub


def reload(sub):
    db.session.expire_all()
    return db.session.get(Subscription, sub.id)


def prorations(sub):
    return db.session.scalars(select(Invoice).where(Invoice.subscription_id == sub.id, Invoice.kind == "proration")
                              .order_by(Invoice.id)).all()


def events(sub):
    return db.session.scalars(select(OutboxMessage.routing_key).where(
        OutboxMessage.aggregate_type == "subscription", OutboxMessage.aggregate_id == sub.id)
        .order_by(OutboxMessage.id)).all()


def change(sub, plan_code, when=None):
    result = plan_change.request_plan_change(sub.id, plan_code, when, actor=ACTOR, cause="test")
    db.session.commit()
    return result


def test_upgrade_charges_the_prorated_difference_on_the_saved_card_and_switches_at_once(billing):
    sub = subscribed(billing)
    make_plan(code="premium", amount=49900)
    clock.freeze(sub.current_period_start + timedelta(days=10, hours=5))
    period = (sub.current_period_start, sub.current_period_end)
    days = (sub.current_period_end - sub.current_period_start).days
    expected = proration.half_up(20000 * (days - 11), days)  # 10 days 5 hours used: the 11th day counts as used

    requested = change(sub, "premium")
    assert (requested.when, requested.quote.amount, requested.charging_card) == ("now", expected, True)
    billing.work()
    billing.assert_no_failed_jobs()

    sub = reload(sub)
    assert (sub.plan.code, sub.amount, sub.status) == ("premium", 49900, "active")
    assert (sub.current_period_start, sub.current_period_end) == period  # same period, same renewal date
    [invoice] = prorations(sub)
    assert (invoice.status, invoice.amount, invoice.plan.code) == ("paid", expected, "premium")
    [charge] = [t for t in billing.provider_transactions(invoice.id) if t["Status"] == "Completed"]
    assert round(charge["Amount"] * 100) == expected
    assert events(sub)[-1] == "subscription.plan_changed"
    message = db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.routing_key == "subscription.plan_changed")).one()
    assert (message.payload["plan"]["code"], message.payload["previous_plan"]["code"]) == ("premium", "monthly")
    assert message.payload["amount"] == 49900

    # Asked again (a retried request): nothing more to pay, nothing charged twice.
    with pytest.raises(NotAllowed):
        change(sub, "premium")


def test_declined_upgrade_leaves_the_plan_until_the_proration_is_paid_in_the_widget(billing):
    sub = subscribed(billing, card=LATER_DECLINED_CARD)
    make_plan(code="premium", amount=49900)
    clock.freeze(sub.current_period_start + timedelta(days=3))

    requested = change(sub, "premium")
    billing.work()
    sub = reload(sub)
    [invoice] = prorations(sub)
    assert (sub.plan.code, invoice.status, invoice.attempt_count) == ("monthly", "open", 1)
    assert "subscription.plan_changed" not in events(sub)
    # Asked again, the same invoice is offered and the declining card is not charged again.
    again = change(sub, "premium")
    assert again.invoice.id == requested.invoice.id and not again.charging_card

    params = widget_parameters(db.session.get(Invoice, invoice.id))
    db.session.commit()
    assert billing.pay(params, card=SUCCESS_CARD)["Success"] is True
    billing.work()
    billing.assert_no_failed_jobs()
    sub = reload(sub)
    assert (sub.plan.code, sub.amount, prorations(sub)[0].status) == ("premium", 49900, "paid")


def test_upgrade_without_a_saved_card_is_paid_in_the_widget(billing):
    sub = subscribed(billing)
    make_plan(code="premium", amount=49900)
    with db.session.begin_nested():
        db.session.get(Subscription, sub.id).payment_method_id = None
    db.session.commit()

    requested = change(sub, "premium")
    assert requested.invoice is not None and not requested.charging_card
    billing.work()
    assert reload(sub).plan.code == "monthly"
    params = widget_parameters(db.session.get(Invoice, requested.invoice.id))
    db.session.commit()
    assert billing.pay(params, card=SUCCESS_CARD)["Success"] is True
    billing.work()
    assert reload(sub).plan.code == "premium"


def test_monthly_to_yearly_charges_the_year_less_the_unused_credit_and_starts_a_yearly_period_now(billing):
    sub = subscribed(billing)
    make_plan(code="yearly", amount=299000, interval_unit="year")
    now = sub.current_period_start + timedelta(days=5, hours=2)
    clock.freeze(now)
    days = (sub.current_period_end - sub.current_period_start).days
    credit = proration.half_up(29900 * (days - 6), days)

    requested = change(sub, "yearly")
    assert (requested.quote.amount, requested.quote.credit) == (299000 - credit, credit)
    billing.work()
    billing.assert_no_failed_jobs()

    sub = reload(sub)
    assert (sub.plan.code, sub.amount) == ("yearly", 299000)
    assert (sub.current_period_start, sub.billing_anchor) == (now, now)
    assert sub.current_period_end == now.replace(year=now.year + 1)
    assert prorations(sub)[0].amount == 299000 - credit


def test_downgrade_is_scheduled_can_be_undone_and_takes_effect_at_the_renewal(billing):
    sub = subscribed(billing, plan_code="premium", amount=49900)
    make_plan(code="monthly", amount=29900)
    with pytest.raises(NotAllowed):
        change(sub, "monthly", "now")

    requested = change(sub, "monthly")
    assert (requested.when, requested.quote.amount, requested.invoice) == ("period_end", 0, None)
    billing.work()
    assert reload(sub).scheduled_plan.code == "monthly"
    assert reload(sub).plan.code == "premium"

    plan_change.request_undo(sub.id, actor=ACTOR, cause="test")
    billing.work()
    assert reload(sub).scheduled_plan_id is None
    [scheduled] = published("subscription.plan_change_scheduled", sub.id)
    assert (scheduled["plan"]["code"], scheduled["scheduled_plan"]) == ("premium", {
        "code": "monthly", "name": "Monthly", "names": {"ru": "Monthly", "en": "Monthly"}, "amount": 29900})
    assert scheduled["current_period_end"] == reload(sub).current_period_end.isoformat()  # when it takes effect
    [undone] = published("subscription.plan_change_undone", sub.id)
    assert (undone["plan"]["code"], undone["scheduled_plan"], undone["undone_plan"]["code"]) == (
        "premium", None, "monthly")
    with pytest.raises(NotAllowed):
        plan_change.request_undo(sub.id, actor=ACTOR, cause="test")

    change(sub, "monthly", "period_end")
    billing.work()
    end = reload(sub).current_period_end
    clock.freeze(end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    billing.assert_no_failed_jobs()

    sub = reload(sub)
    assert (sub.plan.code, sub.amount, sub.scheduled_plan_id, sub.current_period_start) == ("monthly", 29900, None,
                                                                                            end)
    [renewal] = db.session.scalars(select(Invoice).where(Invoice.subscription_id == sub.id,
                                                         Invoice.kind == "renewal")).all()
    assert (renewal.status, renewal.amount) == ("paid", 29900)
    assert events(sub)[-5:] == ["subscription.plan_change_scheduled", "subscription.plan_change_undone",
                                "subscription.plan_change_scheduled", "subscription.plan_changed",
                                "subscription.renewed"]


def test_an_unpaid_upgrade_lapses_with_the_period_it_was_priced_for(billing):
    sub = subscribed(billing, card=LATER_DECLINED_CARD)
    make_plan(code="premium", amount=49900)
    change(sub, "premium")
    billing.work()
    clock.freeze(reload(sub).current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    sub = reload(sub)
    assert sub.plan.code == "monthly"
    assert [i.status for i in prorations(sub)] == ["void"]


def test_a_change_during_the_trial_is_immediate_and_free(billing):
    make_plan(code="trial-monthly", amount=29900, trial_days=7)
    make_plan(code="premium", amount=49900)
    sub, _, params = billing.checkout(make_customer(), "trial-monthly")
    assert billing.pay(params, card=SUCCESS_CARD)["Success"] is True
    billing.work()
    trial_end = reload(sub).trial_end
    assert reload(sub).status == "trialing"

    requested = change(sub, "premium")
    assert (requested.when, requested.quote.amount, requested.invoice) == ("now", 0, None)
    billing.work()
    sub = reload(sub)
    assert (sub.status, sub.plan.code, sub.amount, sub.current_period_end) == ("trialing", "premium", 49900, trial_end)


def test_changes_that_cannot_be_made_are_refused_with_the_reason(billing):
    sub = subscribed(billing)
    make_plan(code="dollars", amount=999, currency="USD")
    make_plan(code="premium", amount=49900)
    make_plan(code="retired", amount=49900, status="archived")
    for plan_code, error in (("monthly", NotAllowed), ("dollars", InvalidRequest), ("retired", Exception),
                             ("nope", Exception)):
        with pytest.raises(error):
            change(sub, plan_code)
    with pytest.raises(InvalidRequest):
        change(sub, "premium", "tomorrow")
    assert prorations(sub) == []


def test_a_longer_interval_whose_credit_covers_its_price_starts_its_own_period_for_nothing(billing):
    sub = subscribed(billing)
    make_plan(code="cheap-yearly", amount=10000, interval_unit="year")
    now = sub.current_period_start + timedelta(hours=1)
    clock.freeze(now)

    requested = change(sub, "cheap-yearly")
    assert (requested.when, requested.quote.amount, requested.invoice) == ("now", 0, None)
    billing.work()
    billing.assert_no_failed_jobs()
    sub = reload(sub)
    assert (sub.plan.code, sub.current_period_start, sub.billing_anchor) == ("cheap-yearly", now, now)
    assert sub.current_period_end == now.replace(year=now.year + 1)


def test_an_unpaid_upgrade_of_a_subscription_ending_at_its_period_end_is_voided_with_it(billing):
    from portal.billing.cancellation import cancel

    sub = subscribed(billing, card=LATER_DECLINED_CARD)
    make_plan(code="premium", amount=49900)
    change(sub, "premium")
    billing.work()
    cancel(sub.id, "period_end", actor=ACTOR, cause="test")
    clock.freeze(reload(sub).current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    sub = reload(sub)
    assert (sub.status, sub.plan.code) == ("canceled", "monthly")
    assert [i.status for i in prorations(sub)] == ["void"]


def test_cancelling_now_after_an_upgrade_refunds_the_unused_days_of_both_payments(billing):
    from portal.billing import cancellation, refund_policy
    from portal.models import Refund

    sub = subscribed(billing)
    make_plan(code="premium", amount=49900)
    clock.freeze(sub.current_period_start + timedelta(days=4, hours=1))
    change(sub, "premium")
    billing.work()
    sub = reload(sub)
    [proration_invoice] = prorations(sub)
    assert (sub.plan.code, proration_invoice.status) == ("premium", "paid")
    clock.freeze(sub.current_period_start + timedelta(days=9, hours=1))
    now = clock.now()
    first = next(i for i in sub.invoices if i.kind == "initial")
    expected = [refund_policy.unused_days_refund(i.amount, i.period_start, i.period_end, now)
                for i in (first, proration_invoice)]
    assert cancellation.refund_if_cancelled_now(sub) == sum(expected)

    cancellation.cancel(sub.id, "now", actor=ACTOR, cause="test")
    billing.work()
    billing.assert_no_failed_jobs()
    refunds = db.session.scalars(select(Refund).order_by(Refund.id)).all()
    assert [(r.payment.invoice_id, r.amount, r.status) for r in refunds] == [
        (first.id, expected[0], "succeeded"), (proration_invoice.id, expected[1], "succeeded")]
