"""The lifecycle in a real Chromium (see tests/account/test_browser.py): subscribing again after a cancellation,
a second trial refused for a card that had one on another account, a card replaced, and a pause taken and ended
early. The jobs run in real RQ workers while the page waits."""
import re
from datetime import timedelta

from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import Subscription
from tests.account import test_browser as browser_tests
from tests.account.test_browser import close_widget, expect, pay_in_widget, sign_in, sign_up, until, url
from tests.factories import make_customer, make_plan
from tests.flows.conftest import SUCCESS_CARD

pytestmark = browser_tests.pytestmark
# The browser and page fixtures of the customer's browser tests, under their own names.
browser = browser_tests.browser
open_page = browser_tests.open_page
NEW_CARD = "4242 4242 4242 4242"


def _subscriptions(email):
    db.session.expire_all()
    return db.session.scalars(select(Subscription).join(Subscription.customer).where(
        Subscription.customer.has(email=email)).order_by(Subscription.id)).all()


def _subscribe(page, billing, code, card=SUCCESS_CARD):
    page.goto(url(billing, "/"))
    page.locator(f"#choose-{code}").click()
    expect(page).to_have_url(re.compile(r"/account/pay/\d+$"))
    pay_in_widget(page, card)
    until(page, billing, page.locator("#checkout-done"))
    close_widget(page)
    page.goto(url(billing, "/account"))
    page.wait_for_load_state("load")


def _active(billing, email, code="monthly"):
    make_plan(code=code, amount=29900)
    sub, _, params = billing.checkout(make_customer(email=email), code)
    assert billing.pay(params)["Success"] is True
    billing.work()
    return sub


def test_a_cancelled_customer_subscribes_again_from_the_catalogue_and_keeps_the_history(open_page, billing, mailbox):
    make_plan(code="monthly", amount=29900)
    page = open_page()
    sign_up(page, billing, "returning@example.com", mailbox)
    _subscribe(page, billing, "monthly")
    page.locator("#cancel-now").click()
    page.locator("#confirm-cancel").click()
    until(page, billing, page.locator("#subscription-status", has_text="Canceled"))

    page.goto(url(billing, "/"))
    again = page.locator("#choose-monthly")
    expect(again).to_have_text("Subscribe to Monthly again")
    again.click()
    expect(page).to_have_url(re.compile(r"/account/pay/\d+$"))
    expect(page.locator("#pay-button")).to_have_text("Pay RUB 299.00")
    pay_in_widget(page, SUCCESS_CARD)
    expect(until(page, billing, page.locator("#checkout-done"))).to_contain_text("Your subscription is active.")

    assert [s.status for s in _subscriptions("returning@example.com")] == ["canceled", "active"]
    page.goto(url(billing, "/account/history"))
    expect(page.locator("body")).to_contain_text("Canceled")


def test_a_card_that_had_a_trial_on_another_account_gets_no_second_trial_and_the_page_says_why(
        open_page, billing, mailbox):
    make_plan(code="premium", amount=59900, trial_days=7)
    first, _, params = billing.checkout(make_customer(email="first-trial@example.com"), "premium")
    assert billing.pay(params, card=SUCCESS_CARD)["Success"] is True
    billing.work()

    page = open_page()
    sign_up(page, billing, "second-trial@example.com", mailbox)
    page.goto(url(billing, "/"))
    page.locator("#choose-premium").click()
    expect(page.locator("#pay-button")).to_have_text("Start free trial")
    pay_in_widget(page, SUCCESS_CARD)
    close_widget(page)
    refused = until(page, billing, page.locator("#trial-refused"))
    expect(refused).to_contain_text("This card has already had a free trial on another account")
    expect(refused).to_contain_text("Nothing was charged for the card check.")

    page.locator("#pay-instead").click()
    expect(page.locator("#trial-refused-note")).to_be_visible()
    expect(page.locator("#pay-button")).to_have_text("Pay RUB 599.00")
    pay_in_widget(page, SUCCESS_CARD)
    expect(until(page, billing, page.locator("#checkout-done"))).to_contain_text("Your subscription is active.")
    [sub] = _subscriptions("second-trial@example.com")
    assert (sub.status, sub.trial_end, sub.trial_refusal) == ("active", None, "card_used")


def test_a_customer_replaces_the_card_and_renewals_use_the_new_one(open_page, billing):
    _active(billing, "new-card@example.com")
    page = open_page()
    sign_in(page, billing, "new-card@example.com")
    expect(page.locator("#subscription-card")).to_contain_text("3055")

    page.locator("#replace-card").click()
    expect(page).to_have_url(re.compile(r"/account/pay/\d+$"))
    expect(page.locator("#current-card")).to_contain_text("3055")
    expect(page.locator("#pay-button")).to_have_text("Check the new card")
    pay_in_widget(page, NEW_CARD)
    expect(until(page, billing, page.locator("#checkout-done"))).to_contain_text("Your new card is saved.")
    close_widget(page)
    page.goto(url(billing, "/account"))
    expect(page.locator("#subscription-card")).to_contain_text("4242")
    [sub] = _subscriptions("new-card@example.com")
    assert sub.payment_method.card_last_four == "4242"


def test_a_customer_pauses_at_the_period_end_and_resumes_early(open_page, billing):
    sub = _active(billing, "pauser@example.com")
    page = open_page()
    sign_in(page, billing, "pauser@example.com")
    page.locator("#pause-months").select_option("2")
    page.locator("#pause-button").click()
    scheduled = until(page, billing, page.locator("#pause-scheduled"))
    expect(scheduled).to_contain_text("You keep access until the pause starts.")

    # The period ends: the renewal pauses the subscription instead of charging it.
    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    from workers import ticks

    ticks.renewals()
    billing.work()
    page.goto(url(billing, "/account"))
    paused = page.locator("#paused")
    expect(paused).to_contain_text("films are not available meanwhile")
    # The card the resume charges can be fixed meanwhile.
    expect(paused.locator("#replace-card")).to_have_text("Replace card")
    page.locator("#resume-now").click()
    until(page, billing, page.locator("#subscription-status", has_text="Active"))
    expect(page.locator("#paused")).to_have_count(0)
    [sub] = _subscriptions("pauser@example.com")
    assert sub.status == "active" and sub.current_period_start == clock.now()
