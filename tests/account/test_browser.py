"""The customer's flows in a real Chromium (Debian's /usr/bin/chromium) driven by Playwright, against the portal
and the CloudPayments sandbox served over HTTP by the test run; the jobs are run by real RQ workers while the
page waits. A failing test leaves a screenshot in $BROWSER_SCREENSHOTS (default: the temp dir)."""
import os
import re
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pytest

from portal import clock
from portal.billing.cancellation import refund_if_cancelled_now
from portal.extensions import db
from portal.models import Refund, Subscription
from tests.browser import CHROMIUM, REFUSALS, chromium, console_errors
from tests.factories import make_customer, make_plan
from tests.flows.conftest import DECLINED_CARD, SUCCESS_CARD
from tests.mailbox import link_to

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM),
    reason=f"browser tests need Chromium at {CHROMIUM}: apt-get install -y chromium",
)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright (requirements-dev.txt)")
expect = sync_api.expect
SCREENSHOTS = Path(os.environ.get("BROWSER_SCREENSHOTS") or Path(tempfile.gettempdir()) / "portal-browser-tests")
PASSWORD = "correct horse"


@pytest.fixture(scope="module")
def browser():
    with chromium(sync_api) as browser:
        yield browser


@pytest.fixture
def open_page(browser, billing, request):
    """Opens pages in a fresh browser context for a language; screenshots them if the test fails."""
    contexts, problems, refused = [], [], set(REFUSALS)

    def open_page(locale="en-US", refusals=()):
        """`refusals`: statuses the test provokes on purpose (a broken link's 400), beside 409 and 422."""
        refused.update(refusals)
        context = browser.new_context(locale=locale, viewport={"width": 1100, "height": 900})
        context.set_default_timeout(10_000)
        page = context.new_page()
        # A CSP refusal or a script error is a bug even when the flow happens to work.
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        contexts.append((context, page))
        return page

    yield open_page
    failed = getattr(request.node, "report_call", None) is not None and request.node.report_call.failed
    for number, (context, page) in enumerate(contexts):
        if failed:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            path = SCREENSHOTS / f"{request.node.name}-{number}.png"
            page.screenshot(path=str(path), full_page=True)
            print(f"screenshot of the failed page: {path}")
        context.close()
    if not failed:
        assert not console_errors(problems, refused), problems


def url(billing, path):
    return billing.live.portal_url + path


def until(page, billing, locator, timeout=30):
    """Wait for the locator while the worker pool runs the jobs the page is waiting for."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        billing.work()
        if locator.count() and locator.first.is_visible():
            return locator
        page.wait_for_timeout(250)
    raise AssertionError(f"{locator} did not appear within {timeout}s; page text:\n{page.inner_text('body')}")


def sign_up(page, billing, email, mailbox):
    """Sign up, then confirm the address from the mail the test SMTP server received, as a new customer does."""
    page.goto(url(billing, "/"))
    page.get_by_role("link", name=re.compile("Sign up|Регистрация")).click()
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("#password_again").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    expect(page).to_have_url(url(billing, "/auth/check-mail"))
    [mail] = mailbox.wait_for(email, work=billing.work)
    page.goto(link_to(mail, "/auth/verify/"))
    page.locator("#password").fill(PASSWORD)
    page.locator("#confirm-button").click()
    expect(page).to_have_url(url(billing, "/account"))
    # The URL changes before the page's scripts have run: a click before htmx has taken over the forms
    # would be a plain form post (the no-script path) instead of the htmx request the test is about.
    page.wait_for_load_state("load")


def sign_in(page, billing, email):
    page.goto(url(billing, "/auth/login"))
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    expect(page).to_have_url(url(billing, "/account"))
    # The URL changes before the page's scripts have run: a click before htmx has taken over the forms
    # would be a plain form post (the no-script path) instead of the htmx request the test is about.
    page.wait_for_load_state("load")


def pay_in_widget(page, card):
    # The button opens the widget only once the page's scripts (checkout.js and the widget's own) have run:
    # a click between the URL changing and the load event does nothing at all.
    page.wait_for_load_state("load")
    page.wait_for_function("() => !!(window.cp && window.cp.CloudPayments) || !!window.YooMoneyCheckoutWidget")
    page.locator("#pay-button").click()
    dialog = page.locator("#cp-sandbox-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("#cp-sandbox-card-number").fill(card)
    dialog.locator("#cp-sandbox-exp-date").fill("12/30")
    dialog.locator("#cp-sandbox-cvv").fill("123")
    dialog.locator("#cp-sandbox-pay").click()
    # The sandbox answers the card attempt over HTTP: on a loaded machine that may take longer than expect's 5 s.
    expect(page.locator("#cp-sandbox-result")).not_to_have_text(re.compile(r"^(Processing…|Обработка…)?$"),
                                                               timeout=20_000)


def close_widget(page):
    if page.locator("#cp-sandbox-overlay").count():
        page.keyboard.press("Escape")
    expect(page.locator("#cp-sandbox-overlay")).to_have_count(0)


def choose_plan(page, billing, code="monthly"):
    page.goto(url(billing, "/"))
    page.locator(f"#choose-{code}").click()
    expect(page).to_have_url(re.compile(r"/account/pay/\d+$"))


def test_sign_up_choose_a_plan_pay_and_watch_it_turn_active(open_page, billing, mailbox):
    make_plan(code="monthly", amount=29900)
    page = open_page()
    sign_up(page, billing, "viewer@example.com", mailbox)
    choose_plan(page, billing)
    expect(page.locator("#pay-button")).to_have_text("Pay RUB 299.00")
    page.evaluate("window.sameDocument = true")

    pay_in_widget(page, SUCCESS_CARD)
    done = until(page, billing, page.locator("#checkout-done"))
    expect(done).to_contain_text("Your subscription is active.")
    expect(done).to_contain_text("Paid period:")
    # What the page said was due is settled in place: it says paid, no longer "To pay now".
    expect(page.locator("#amount-due")).to_have_text(re.compile(r"^\s*Paid\s*RUB 299.00\s*$"))
    assert page.evaluate("window.sameDocument") is True  # no reload: htmx swapped the status in
    expect(page.locator("#checkout-status")).not_to_have_attribute("hx-trigger", re.compile(".*"))
    page.screenshot(path=str(Path(tempfile.gettempdir()) / "portal-checkout-active.png"), full_page=True)

    page.get_by_role("link", name="Go to my subscription").first.click()
    expect(page.locator("#subscription-status")).to_have_text("Active")
    expect(page.locator("#subscription")).to_contain_text("•••• 3055")
    expect(page.locator("#payments")).to_contain_text("RUB 299.00")
    page.screenshot(path=str(Path(tempfile.gettempdir()) / "portal-my-subscription.png"), full_page=True)


def test_a_declined_card_is_explained_and_another_card_succeeds(open_page, billing, mailbox):
    make_plan(code="monthly")
    page = open_page()
    sign_up(page, billing, "unlucky@example.com", mailbox)
    choose_plan(page, billing)

    pay_in_widget(page, DECLINED_CARD)
    close_widget(page)
    declined = until(page, billing, page.locator("#checkout-declined"))
    expect(declined).to_contain_text("Insufficient funds")
    expect(page.locator("#pay-button")).to_have_text("Try another card")
    page.screenshot(path=str(Path(tempfile.gettempdir()) / "portal-checkout-declined.png"), full_page=True)

    pay_in_widget(page, SUCCESS_CARD)
    expect(until(page, billing, page.locator("#checkout-done"))).to_contain_text("Your subscription is active.")


def test_the_russian_locale_renders_the_same_flow(open_page, billing, mailbox):
    make_plan(code="monthly", amount=29900)
    page = open_page("ru-RU")
    sign_up(page, billing, "zritel@example.com", mailbox)
    expect(page.locator("h1")).to_have_text("Моя подписка")
    choose_plan(page, billing)
    expect(page.locator("#pay-button")).to_have_text(re.compile(r"Оплатить 299,00\s₽"))
    pay_in_widget(page, DECLINED_CARD)
    # The provider's window speaks the page's language too.
    dialog = page.locator("#cp-sandbox-dialog")
    expect(dialog.locator("#cp-sandbox-title")).to_have_text("Оплата картой (песочница CloudPayments)")
    expect(dialog.locator("label[for=cp-sandbox-card-number]")).to_have_text("Номер карты")
    expect(dialog.locator("#cp-sandbox-pay")).to_have_text("Закрыть")
    close_widget(page)
    expect(until(page, billing, page.locator("#checkout-declined"))).to_contain_text("Недостаточно средств")
    pay_in_widget(page, SUCCESS_CARD)
    expect(until(page, billing, page.locator("#checkout-done"))).to_contain_text("Подписка активна.")
    page.locator("#checkout-done a").click()
    expect(page.locator("#subscription-status")).to_have_text("Активна")


def _active_subscription(billing, email):
    make_plan(code="monthly", amount=29900)
    customer = make_customer(email=email)
    sub, _, params = billing.checkout(customer, "monthly")
    assert billing.pay(params)["Success"] is True
    billing.work()
    db.session.expire_all()
    sub = db.session.get(Subscription, sub.id)
    assert sub.status == "active"
    return sub


def test_auto_renew_off_and_on_again(open_page, billing):
    _active_subscription(billing, "toggler@example.com")
    page = open_page()
    sign_in(page, billing, "toggler@example.com")
    expect(page.locator("#auto-renew-state")).to_have_text("On")

    page.locator("#auto-renew-off").click()
    until(page, billing, page.locator("#auto-renew-on"))
    expect(page.locator("#auto-renew-state")).to_have_text("Off")
    expect(page.locator("#subscription")).to_contain_text("Nothing more will be charged")

    page.locator("#auto-renew-on").click()
    until(page, billing, page.locator("#auto-renew-off"))
    expect(page.locator("#auto-renew-state")).to_have_text("On")


def test_cancel_now_shows_the_refund_first_and_records_it(open_page, billing):
    sub = _active_subscription(billing, "leaver@example.com")
    clock.freeze(sub.current_period_start + timedelta(days=10, hours=1))
    amount = refund_if_cancelled_now(sub)
    shown = f"RUB {amount // 100}.{amount % 100:02d}"
    page = open_page()
    sign_in(page, billing, "leaver@example.com")

    page.locator("#cancel-now").click()
    expect(page.locator("#refund-amount")).to_have_text(shown)
    expect(page.locator("#confirm-cancel")).to_have_text(f"Cancel now and refund {shown}")
    assert db.session.query(Refund).count() == 0

    page.locator("#confirm-cancel").click()
    until(page, billing, page.locator("#subscription-status", has_text="Canceled"))
    until(page, billing, page.locator("#billing-history .refund-line"))
    expect(page.locator("#billing-history .refund-line")).to_contain_text(shown)
    assert [r.amount for r in db.session.query(Refund)] == [amount]


def test_keyboard_only_sign_in(open_page, billing):
    make_customer(email="keys@example.com")
    page = open_page()
    page.goto(url(billing, "/"))
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Sign in":
            break
    else:
        raise AssertionError("the Sign in link is not reachable with Tab")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/auth/login"))
    expect(page.locator("#email")).to_be_focused()  # the form starts where typing starts
    page.keyboard.type("keys@example.com")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(url(billing, "/account"))
    expect(page.locator("h1")).to_have_text("My subscription")
