"""Checkout and cancellation with the keyboard alone in a real Chromium (see tests/account/test_browser.py): Tab,
Shift+Tab, Enter, Space and Escape, typing; no clicks, no fills, no mouse. At each step the test checks where the
focus is, as a keyboard user would see it, including inside the payment widget's dialog (the focus stays in it
while it is open and comes back to the pay button when it closes)."""
import re

import pytest

from portal.extensions import db
from portal.models import Subscription
from tests.account import test_browser as browser_tests
from tests.account.test_browser import PASSWORD, expect, sync_api, until, url
from tests.factories import make_customer, make_plan
from tests.flows.conftest import DECLINED_CARD, SUCCESS_CARD

pytestmark = browser_tests.pytestmark
# The browser and page fixtures of the customer's browser tests, under their own names.
browser = browser_tests.browser
open_page = browser_tests.open_page

# What the customer reads, in each language the portal speaks.
TEXTS = {
    "en-US": {
        "account": "My subscription", "choose": "Choose a plan", "plan": "Choose Monthly", "pay": "Pay RUB 299.00",
        "widget_pay": "Pay 299.00 RUB", "close": "Close", "declined": "Insufficient funds",
        "again": "Try another card", "active": "Your subscription is active.", "paid": "Paid",
        "go": "Go to my subscription", "status_active": "Active", "cancel": "Cancel now…",
        "confirm_title": "Cancel Monthly now?", "confirm": "Cancel now", "canceled": "Canceled",
        "landed": "Your subscription is canceled.",
    },
    "ru-RU": {
        "account": "Моя подписка", "choose": "Выбрать тариф", "plan": "Выбрать «Monthly»",
        "pay": "Оплатить 299,00\u00a0₽", "widget_pay": "Оплатить 299,00 ₽", "close": "Закрыть",
        "declined": "Недостаточно средств на карте", "again": "Попробовать другую карту",
        "active": "Подписка активна.", "paid": "Оплачен", "go": "Перейти к подписке", "status_active": "Активна",
        "cancel": "Отменить сейчас…", "confirm_title": "Отменить «Monthly» сейчас?", "confirm": "Отменить сейчас",
        "canceled": "Отменена", "landed": "Подписка отменена.",
    },
}
DIALOG_CONTROLS = ["cp-sandbox-card-number", "cp-sandbox-exp-date", "cp-sandbox-cvv", "cp-sandbox-pay",
                   "cp-sandbox-cancel"]


# The focused element as the test names it: its id, else its tag and text ("a:Go to my subscription").
_FOCUSED = """(() => {
    const a = document.activeElement;
    if (!a || a === document.body) { return 'body'; }
    return a.id || (a.tagName.toLowerCase() + ':' + a.textContent.trim().replace(/\\s+/g, ' '));
})()"""


def focused(page):
    return page.evaluate(_FOCUSED)


def tab_to(page, wanted, most=25):
    """Press Tab until the focus is on `wanted` (a name as focused() gives it)."""
    passed = []
    for _ in range(most):
        page.keyboard.press("Tab")
        passed.append(focused(page))
        if passed[-1] == wanted:
            return
    raise AssertionError(f"{wanted} is not reachable with Tab; the focus went through {passed}")


def type_card(page, card):
    """The card's details typed into the widget's three fields, Tab between them; the focus ends on the CVV."""
    for field, text in zip(DIALOG_CONTROLS[:3], (card, "12/30", "123"), strict=True):
        assert focused(page) == field
        page.keyboard.type(text)
        if field != DIALOG_CONTROLS[2]:
            page.keyboard.press("Tab")


def expect_focus(page, wanted):
    """The focus is on `wanted` now or within a few seconds (it may move a moment after a key: a swap, a dialog)."""
    try:
        page.wait_for_function(f"wanted => {_FOCUSED} === wanted", arg=wanted, timeout=5_000)
    except sync_api.TimeoutError:
        raise AssertionError(f"the focus is on {focused(page)}, not on {wanted}") from None


@pytest.mark.parametrize("locale", ["en-US", "ru-RU"])
def test_a_customer_subscribes_and_cancels_with_the_keyboard_only(open_page, billing, locale):
    texts = TEXTS[locale]
    make_plan(code="monthly", amount=29900)
    email = f"keyboard-{locale.lower()}@example.com"
    make_customer(email=email)
    page = open_page(locale)

    # Signing in: the form starts where typing starts.
    page.goto(url(billing, "/auth/login"))
    expect(page.locator("#email")).to_be_focused()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    expect(page.locator("#password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(url(billing, "/account"))
    expect(page.locator("h1")).to_have_text(texts["account"])
    page.wait_for_load_state("load")

    # From the empty subscription card to the catalogue, and a plan's button there.
    tab_to(page, f"a:{texts['choose']}")
    page.keyboard.press("Enter")
    expect(page).to_have_url(url(billing, "/"))
    page.wait_for_load_state("load")
    tab_to(page, "choose-monthly")
    expect(page.locator("#choose-monthly")).to_have_text(texts["plan"])
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/account/pay/\d+$"))
    # The widget opens only once the page's scripts and the widget's own have run.
    page.wait_for_load_state("load")
    page.wait_for_function("() => !!(window.cp && window.cp.CloudPayments)")

    tab_to(page, "pay-button")
    expect(page.locator("#pay-button")).to_have_text(texts["pay"])
    page.keyboard.press("Enter")
    dialog = page.locator("#cp-sandbox-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("role", "dialog")
    expect(dialog).to_have_attribute("aria-modal", "true")
    expect(dialog).to_have_accessible_name(re.compile("CloudPayments"))
    expect_focus(page, "cp-sandbox-card-number")

    # Tab goes round the dialog's five controls and never into the page behind the overlay; Shift+Tab back.
    walked = []
    for _ in range(len(DIALOG_CONTROLS)):
        page.keyboard.press("Tab")
        walked.append(focused(page))
    assert walked == DIALOG_CONTROLS[1:] + DIALOG_CONTROLS[:1]
    page.keyboard.press("Shift+Tab")
    assert focused(page) == "cp-sandbox-cancel"
    page.keyboard.press("Shift+Tab")
    assert focused(page) == "cp-sandbox-pay"

    # Escape closes the dialog without paying and gives the focus back to the button that opened it.
    page.keyboard.press("Escape")
    expect(page.locator("#cp-sandbox-overlay")).to_have_count(0)
    expect_focus(page, "pay-button")
    expect(page.locator("#pay-button")).to_be_enabled()

    # Space opens it again. A declined card, paid with Enter from the last field: the dialog's only way on
    # (Close) takes the focus, the focus still goes round inside, and closing hands it to the page's new button.
    page.keyboard.press("Space")
    expect(dialog).to_be_visible()
    expect_focus(page, "cp-sandbox-card-number")
    type_card(page, DECLINED_CARD)
    page.keyboard.press("Enter")
    # The sandbox, like the provider, words the card holder's message in Russian whatever the page's language.
    expect(page.locator("#cp-sandbox-result")).to_have_text("Недостаточно средств на карте")
    expect(page.locator("#cp-sandbox-pay")).to_have_text(texts["close"])
    expect_focus(page, "cp-sandbox-pay")
    page.keyboard.press("Tab")
    assert focused(page) == "cp-sandbox-card-number"
    page.keyboard.press("Shift+Tab")
    assert focused(page) == "cp-sandbox-pay"
    page.keyboard.press("Enter")
    expect(page.locator("#cp-sandbox-overlay")).to_have_count(0)
    expect(until(page, billing, page.locator("#checkout-declined"))).to_contain_text(texts["declined"])
    expect(page.locator("#pay-button")).to_have_text(texts["again"])
    expect_focus(page, "pay-button")

    # Enter opens it for another card, typed field by field and paid with Enter on the dialog's Pay button.
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    expect_focus(page, "cp-sandbox-card-number")
    type_card(page, SUCCESS_CARD)
    page.keyboard.press("Tab")
    assert focused(page) == "cp-sandbox-pay"
    expect(page.locator("#cp-sandbox-pay")).to_have_text(texts["widget_pay"])
    page.keyboard.press("Enter")
    expect(page.locator("#cp-sandbox-result")).to_have_text(re.compile("Payment successful|Оплата прошла"))
    expect(page.locator("#cp-sandbox-overlay")).to_have_count(0)

    # The page says so in place, and the focus lands on the way on, not at the top of the page.
    done = until(page, billing, page.locator("#checkout-done"))
    expect(done).to_contain_text(texts["active"])
    expect(page.locator("#amount-due dt")).to_have_text(texts["paid"])
    expect_focus(page, f"a:{texts['go']}")
    page.keyboard.press("Enter")
    expect(page).to_have_url(url(billing, "/account"))
    expect(page.locator("#subscription-status")).to_have_text(texts["status_active"])
    page.wait_for_load_state("load")

    # Cancelling: the link opens the confirmation in place, whose first control (the confirming button) takes
    # the focus; Enter confirms and the card says the subscription is canceled.
    tab_to(page, "cancel-now")
    expect(page.locator("#cancel-now")).to_have_text(texts["cancel"])
    page.keyboard.press("Enter")
    expect(page.locator("#cancel-title")).to_have_text(texts["confirm_title"])
    expect_focus(page, "confirm-cancel")
    refund = page.locator("#refund-amount").inner_text()
    expect(page.locator("#confirm-cancel")).to_have_text(re.compile(
        "^" + re.escape(texts["confirm"]) + ".*" + re.escape(refund) + "$"))
    page.keyboard.press("Enter")
    until(page, billing, page.locator("#subscription-status", has_text=texts["canceled"]))
    expect(page.locator("#change-landed")).to_contain_text(texts["landed"])
    # The focus stays in the card that changed, on its way on, not dropped at the top of the page.
    expect_focus(page, f"a:{texts['choose']}")
    assert page.evaluate("document.getElementById('subscription').contains(document.activeElement)")

    db.session.expire_all()
    [sub] = db.session.query(Subscription).all()
    assert sub.status == "canceled"
