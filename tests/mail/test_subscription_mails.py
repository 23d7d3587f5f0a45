"""The mails of a subscription's changes and of refunds: cancelled now with a refund, extended by a grant,
paused, moved to another plan; each once, in the customer's language."""
from datetime import timedelta

from portal import clock
from portal.billing import cancellation, grants, pauses, plan_change
from portal.extensions import db
from portal.models import Subscription
from tests.dates import english_day, in_moscow
from tests.factories import make_customer, make_plan, make_subscription
from tests.mail.support import by_subject, paid_subscription, stored_mails
from tests.mailbox import run_jobs, text_of
from workers import ticks


def english(customer):
    customer.locale = "en"
    db.session.commit()
    return customer


def test_cancelling_now_mails_the_end_and_the_refund_separately(billing, mailbox):
    customer = english(make_customer())
    sub = paid_subscription(billing, customer=customer)
    clock.advance(timedelta(days=10))
    cancellation.cancel(sub.id, "now", actor=f"customer:{customer.id}", cause="test")
    billing.work()
    billing.work()

    [canceled] = by_subject(mailbox, customer.email, "Your subscription is canceled")
    today = clock.now()
    assert f"Your Monthly subscription is canceled. Your access ended on {english_day(today)}." \
        in text_of(canceled)
    [refund] = mailbox.wait_for(customer.email, count=3, work=billing.work)[2:]
    assert refund["Subject"] == "Your refund is on its way"
    text = text_of(refund)
    assert "We have refunded RUB " in text and "to the card you paid with." in text
    assert "Card: •••• 3055" in text and "Payment: RUB 299.00 on" in text
    assert [m.purpose for m in stored_mails()] == ["payment_receipt", "subscription_canceled", "refund_succeeded"]


def test_an_unpaid_checkout_that_lapses_mails_nothing(app, mailbox):
    sub = make_subscription(status="pending")
    cancellation.cancel(sub.id, "now", actor="job:checkout-expiry", cause="test")
    run_jobs()
    assert stored_mails() == []


def test_a_grant_mails_the_free_extension_in_russian(billing, mailbox):
    sub = paid_subscription(billing)
    grants.grant_days(sub.customer.external_id, "monthly", 10, actor="staff:1", cause="apology")
    billing.work()
    [extended] = by_subject(mailbox, sub.customer.email, "Подписка продлена")
    db.session.expire_all()
    end = db.session.get(Subscription, sub.id).current_period_end
    assert f"Ваша подписка Monthly бесплатно продлена до {in_moscow(end).day} " in text_of(extended)
    assert len(stored_mails("subscription_renewed")) == 1


def test_a_pause_says_until_when_and_that_nothing_is_charged(billing, mailbox):
    customer = english(make_customer())
    sub = paid_subscription(billing, customer=customer)
    pauses.schedule_pause(sub.id, 2, actor=f"customer:{customer.id}", cause="test")
    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()

    [paused] = by_subject(mailbox, customer.email, "Your subscription is paused")
    resumes = db.session.get(Subscription, sub.id).resumes_at
    assert f"Your Monthly subscription is paused until {english_day(resumes)}: nothing is " \
           "charged" in text_of(paused)


def test_a_plan_change_during_the_trial_names_the_new_plan_and_the_old(app, mailbox):
    make_plan(code="premium", amount=49900)
    sub = make_subscription(status="trialing", plan=make_plan(code="basic", amount=29900, trial_days=7))
    english(sub.customer)
    plan_change.change_plan(sub.id, "premium", "now", actor="customer:1", cause="test")
    run_jobs()
    [changed] = mailbox.wait_for(sub.customer.email)
    assert changed["Subject"] == "Your plan has changed"
    assert "Your subscription is now on the Premium plan (it was Basic)." in text_of(changed)
    assert "Price: RUB 499.00" in text_of(changed)


def test_a_price_move_is_mailed_as_notice_with_the_new_price_and_the_first_payment_at_it(billing, mailbox):
    from datetime import UTC, datetime

    from portal.billing import prices
    from portal.machines import atomic
    from portal.models import Plan

    clock.freeze(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    customer = english(make_customer())
    sub = paid_subscription(billing, customer=customer)  # 1 December – 1 January at RUB 299.00
    plan = db.session.get(Plan, sub.plan_id)
    plan.amount = 34900
    db.session.commit()
    with atomic():
        prices.move_to_plan_price(sub.id, actor="staff:1", cause="2027 prices")
    billing.work()
    billing.work()  # a second build of the same event adds nothing

    [notice] = by_subject(mailbox, customer.email, "Your subscription's price is changing")
    text = text_of(notice)
    # 30 days' notice from 1 December end on 31 December: the 1 January payment is the first at the new price.
    assert ("The price of your Monthly subscription changes to RUB 349.00 from the payment on January 1, 2027. "
            "Until then you keep paying RUB 299.00.") in text
    assert "turn auto-renew off on your subscription page before January 1, 2027" in text
    assert len(stored_mails("price_change")) == 1


def test_a_renewal_receipt_states_the_next_payment_at_the_price_a_scheduled_move_bills_then(billing, mailbox):
    from datetime import UTC, datetime

    from portal.billing import prices
    from portal.machines import atomic
    from portal.models import Plan

    clock.freeze(datetime(2026, 12, 20, 10, 0, tzinfo=UTC))
    customer = english(make_customer())
    customer.time_zone = "UTC"
    db.session.commit()
    sub = paid_subscription(billing, customer=customer)  # 20 December – 20 January at RUB 299.00
    clock.freeze(datetime(2026, 12, 25, 10, 0, tzinfo=UTC))
    plan = db.session.get(Plan, sub.plan_id)
    plan.amount = 34900
    db.session.commit()
    with atomic():
        move = prices.move_to_plan_price(sub.id, actor="staff:1", cause="2027 prices")
    assert move.first_renewal_at == datetime(2027, 2, 20, 10, 0, tzinfo=UTC)  # the notice ends on 24 January
    billing.work()

    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    billing.work()
    receipts = by_subject(mailbox, customer.email, "Payment received")
    assert len(receipts) == 2
    text = text_of(receipts[-1])
    assert "Amount: RUB 299.00" in text  # the 20 January renewal still bills the price of before
    assert "Next payment: RUB 349.00 on February 20, 2027" in text
