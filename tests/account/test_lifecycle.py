"""The lifecycle as a customer meets it on the pages: subscribing again after an end, one free trial per
customer, one checkout at a time, the price they pay, and ended subscriptions that say when and why."""
import re
from datetime import timedelta

from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import Invoice, OutboxMessage, Plan, Subscription
from tests.account.support import fragment, start_checkout, subscribe
from tests.auth.helpers import post, signed_in_customer
from tests.dates import english_day
from tests.factories import make_plan


def page(client, path):
    return client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)


def plan_card(html, code):
    return re.search(rf'<li class="plan[^"]*" id="plan-{code}">(.*?)</li>', html, re.S).group(1)


def cancel_now(client, billing, sub):
    assert post(client, f"/account/subscriptions/{sub.id}/cancel", htmx=True).status_code == 200
    billing.work()
    billing.work()
    db.session.expire_all()
    return db.session.get(Subscription, sub.id)


def test_after_cancelling_the_catalogue_offers_the_plan_again_and_the_customer_resubscribes(client, billing):
    make_plan(code="premium", amount=59900)
    signed_in_customer(client)
    first, _, _ = subscribe(client, billing, "premium")
    assert cancel_now(client, billing, first).status == "canceled"

    card = plan_card(page(client, "/"), "premium")
    assert "Your plan" not in card and "Manage" not in card  # no loop back to the ended subscription
    assert 'id="choose-premium"' in card and "Subscribe to Premium again" in card

    second, _, outcome = subscribe(client, billing, "premium")
    assert outcome["Success"] is True
    assert second.id != first.id and second.status == "active"
    assert db.session.get(Subscription, first.id).status == "canceled"  # the history is kept
    html = page(client, "/account")
    assert 'id="subscription-status">Active' in html


def test_a_free_trial_is_offered_once_per_customer(client, billing):
    make_plan(code="premium", amount=59900, trial_days=7)
    signed_in_customer(client)
    trial, invoice, _ = subscribe(client, billing, "premium")
    assert (trial.status, invoice.kind) == ("trialing", "verification")
    assert cancel_now(client, billing, trial).status == "canceled"

    # Before paying, the pages say there is no second trial, and what is charged.
    assert "7 days free" not in plan_card(page(client, "/"), "premium")
    checkout_page = page(client, "/account/checkout/premium")
    assert "7 days free" not in checkout_page
    assert "You have already had a free trial, so this subscription is paid from today: RUB 599.00 now" in checkout_page

    invoice, params, pay_page = start_checkout(client, "premium")
    assert (invoice.kind, invoice.amount) == ("initial", 59900)
    assert params["amount"] == 599.0 and "Start free trial" not in pay_page.get_data(as_text=True)
    assert billing.pay(params)["Success"] is True
    billing.work()
    db.session.expire_all()
    sub = db.session.get(Subscription, invoice.subscription_id)
    assert sub.status == "active" and sub.trial_end is None


def test_a_new_customer_still_gets_the_trial(client, billing):
    make_plan(code="premium", amount=59900, trial_days=7)
    signed_in_customer(client)
    assert "7 days free" in plan_card(page(client, "/"), "premium")
    invoice, _, _ = start_checkout(client, "premium")
    assert invoice.kind == "verification"


def test_choosing_another_plan_replaces_the_pending_checkout(client, billing):
    make_plan(code="premium", amount=59900)
    make_plan(code="monthly", amount=29900)
    signed_in_customer(client)
    premium_invoice, _, _ = start_checkout(client, "premium")
    # The pending plan's card continues that checkout rather than sending the customer away.
    assert "Continue to payment" in plan_card(page(client, "/"), "premium")

    monthly_invoice, params, _ = start_checkout(client, "monthly")
    db.session.expire_all()
    premium = db.session.get(Subscription, premium_invoice.subscription_id)
    assert premium.status == "canceled" and db.session.get(Invoice, premium_invoice.id).status == "void"
    assert db.session.scalars(select(Subscription.id).where(Subscription.status == "pending")).all() == [
        monthly_invoice.subscription_id]
    # Choosing the same plan again reuses its checkout: no third subscription.
    again, _, _ = start_checkout(client, "monthly")
    assert again.id == monthly_invoice.id
    assert "The checkout was canceled before payment." not in page(client, "/account")  # the live one shows


def test_the_catalogue_shows_the_customer_the_price_they_pay(client, billing):
    plan = make_plan(code="monthly", amount=29900)
    signed_in_customer(client)
    sub, _, _ = subscribe(client, billing, "monthly")
    db.session.get(Plan, plan.id).amount = 34900  # staff raise the price for new subscribers
    db.session.commit()

    card = plan_card(page(client, "/"), "monthly")
    assert "RUB 299.00" in card and "Your plan" in card
    assert "Your price. New subscribers pay RUB 349.00." in card
    assert "RUB 299.00" in page(client, "/account")


def test_an_ended_subscription_says_when_and_why_not_a_current_period(client, billing):
    make_plan(code="monthly", amount=29900)
    signed_in_customer(client)
    sub, _, _ = subscribe(client, billing, "monthly")
    clock.freeze(sub.current_period_start + timedelta(days=10))
    sub = cancel_now(client, billing, sub)
    html = page(client, "/account")
    assert 'id="subscription-period"' not in html and "Current period" not in html
    ended = re.search(r'id="subscription-ended">([^<]+)<', html).group(1)
    assert ended == english_day(sub.ended_at)
    assert 'id="subscription-ending">You canceled it.' in html
    assert re.search(r'id="subscription-refunded">RUB \d+\.\d\d', html)


def test_a_cancelled_trial_reads_as_a_trial_that_ended(client, billing):
    make_plan(code="premium", amount=59900, trial_days=7)
    signed_in_customer(client)
    sub, _, _ = subscribe(client, billing, "premium")
    cancel_now(client, billing, sub)
    html = fragment(client, "/account").get_data(as_text=True)
    assert "Free trial ended" in html and "You canceled the free trial." in html
    assert "paid period" not in html and 'id="subscription-refunded"' not in html


def test_auto_renew_off_ends_with_the_period_and_says_so(client, billing):
    from workers import ticks

    make_plan(code="monthly", amount=29900)
    signed_in_customer(client)
    sub, _, _ = subscribe(client, billing, "monthly")
    turned_off = post(client, f"/account/subscriptions/{sub.id}/auto-renew", {"auto_renew": "off"}, htmx=True)
    assert turned_off.status_code == 200
    billing.work()
    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    html = page(client, "/account")
    assert "Auto-renew was off, so it ended with the paid period." in html
    assert db.session.scalars(select(OutboxMessage.routing_key).where(
        OutboxMessage.routing_key == "subscription.canceled")).all() == ["subscription.canceled"]


def test_a_checkout_being_paid_is_not_replaced_by_another_plan(client, billing):
    make_plan(code="premium", amount=59900)
    make_plan(code="monthly", amount=29900)
    signed_in_customer(client)
    premium_invoice, params, _ = start_checkout(client, "premium")
    assert billing.pay(params)["Success"] is True  # the provider charged it; its Pay waits in the inbox

    refused = post(client, "/account/checkout", {"plan": "monthly"})
    assert refused.status_code == 303
    assert "Your payment for the plan you chose before is being confirmed" in page(client, "/account")
    billing.work()
    db.session.expire_all()
    assert db.session.get(Subscription, premium_invoice.subscription_id).status == "active"
    assert db.session.get(Invoice, premium_invoice.id).status == "paid"
    assert db.session.scalars(select(Subscription.id)).all() == [premium_invoice.subscription_id]
