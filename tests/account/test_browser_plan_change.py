"""Change plan in a real Chromium (see tests/account/test_browser.py): an upgrade previewed from the catalogue,
its proration declined on the saved card and paid in the widget; a downgrade scheduled and undone."""
import re

from portal.extensions import db
from portal.models import Subscription
from tests.account import test_browser as browser_tests
from tests.account.test_browser import choose_plan, expect, pay_in_widget, sign_up, until, url
from tests.factories import make_plan
from tests.flows.conftest import LATER_DECLINED_CARD, SUCCESS_CARD

pytestmark = browser_tests.pytestmark
# The browser and page fixtures of the customer's browser tests, under their own names.
browser = browser_tests.browser
open_page = browser_tests.open_page


def subscribe_in_browser(page, billing, code, card):
    choose_plan(page, billing, code)
    pay_in_widget(page, card)
    until(page, billing, page.locator("#checkout-done"))
    page.goto(url(billing, "/account"))
    page.wait_for_load_state("load")


def test_upgrade_from_the_catalogue_declined_on_the_card_then_paid_in_the_widget(open_page, billing, mailbox):
    make_plan(code="monthly", amount=29900)
    make_plan(code="premium", amount=49900)
    page = open_page()
    sign_up(page, billing, "upgrader@example.com", mailbox)
    # Its first payment succeeds; later token charges are declined (insufficient funds).
    subscribe_in_browser(page, billing, "monthly", LATER_DECLINED_CARD)

    page.goto(url(billing, "/"))
    expect(page.locator("#plan-premium")).not_to_contain_text("cancel your current plan first")
    page.locator("#switch-premium").click()
    amount = page.locator("#proration-amount")
    expect(amount).to_have_text(re.compile(r"RUB \d+\.\d\d"))
    shown = amount.inner_text()
    page.locator("#confirm-plan-change").click()
    expect(page.locator("#confirm-plan-change")).to_have_count(0)

    due = until(page, billing, page.locator("#upgrade-due"))
    expect(due).to_contain_text("Your card was declined.")
    expect(due).to_contain_text(shown)
    expect(page.locator("#subscription h2")).to_have_text("Monthly")  # not until the proration is paid
    page.locator("#pay-upgrade").click()
    expect(page).to_have_url(re.compile(r"/account/pay/\d+$"))
    expect(page.locator("#pay-button")).to_have_text(f"Pay {shown}")
    pay_in_widget(page, SUCCESS_CARD)
    expect(until(page, billing, page.locator("#checkout-done"))).to_contain_text("Paid. Thank you!")

    page.goto(url(billing, "/account"))
    expect(page.locator("#subscription h2")).to_have_text("Premium")
    expect(page.locator("#subscription")).to_contain_text("RUB 499.00 per month")
    expect(page.locator("#upgrade-due")).to_have_count(0)
    expect(page.locator("#invoices")).to_contain_text("Plan change")


def test_downgrade_is_scheduled_shown_and_undone(open_page, billing, mailbox):
    make_plan(code="monthly", amount=29900)
    make_plan(code="premium", amount=49900)
    page = open_page()
    sign_up(page, billing, "downgrader@example.com", mailbox)
    subscribe_in_browser(page, billing, "premium", SUCCESS_CARD)

    page.locator("#change-plan").click()
    page.locator("#switch-to-monthly").click()
    expect(page.locator("#change-plan-preview")).to_contain_text("nothing is charged today")
    page.locator("#confirm-plan-change").click()
    scheduled = until(page, billing, page.locator("#scheduled-change"))
    expect(scheduled).to_contain_text(re.compile(r"Changes to Monthly on \w+ \d+, \d{4}\."))
    expect(page.locator("#next-charge")).to_contain_text("RUB 299.00")
    db.session.expire_all()
    assert db.session.scalars(db.select(Subscription)).one().scheduled_plan.code == "monthly"

    page.locator("#undo-plan-change").click()
    until(page, billing, page.locator("#next-charge", has_text="RUB 499.00"))
    expect(page.locator("#scheduled-change")).to_have_count(0)
    expect(page.locator("#subscription h2")).to_have_text("Premium")
