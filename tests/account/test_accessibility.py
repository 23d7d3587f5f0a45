"""axe-core on every customer page, in Russian and English, on a desktop and a phone: no violation of impact
serious or critical; on the phone no page wider than the screen and the history tables' cells labelled with their
column. One walk per language, each page checked at both widths, from the signed-out pages through a
checkout paid in the sandbox's widget to the paid subscription's pages (tests/accessibility.py runs axe)."""
import re

import pytest
from sqlalchemy import select

from portal import account_email
from portal.extensions import db
from portal.models import Invoice, Payment, Subscription
from tests.accessibility import LOCALES, WIDTHS, axe_violations, focus_ring_problems, phone_layout_problems
from tests.account import test_browser as browser_tests
from tests.account.test_browser import expect, sign_in, until, url
from tests.browser import console_errors
from tests.factories import make_customer, make_plan
from tests.flows.conftest import SUCCESS_CARD
from tests.reading import reading_problems

pytestmark = browser_tests.pytestmark
browser = browser_tests.browser  # one Chromium for the module


@pytest.fixture
def new_page(browser):
    contexts = []

    def new_page(language, problems):
        context = browser.new_context(locale=LOCALES[language], viewport=WIDTHS["desktop"])
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        return page

    yield new_page
    for context in contexts:
        context.close()


FIRST_PAYMENT = {"ru": "Первый платёж", "en": "First payment"}


@pytest.mark.parametrize("language", LOCALES)
def test_customer_pages_have_no_serious_accessibility_violations_and_fit_a_phone(new_page, billing, language):
    make_plan(code="monthly", amount=29900, name_ru="Месячная", name_en="Monthly")
    make_plan(code="yearly", amount=299000, interval_unit="year", name_ru="Годовая", name_en="Yearly")
    customer = make_customer(email="reader@example.com")
    reset_link = account_email._reset_link(customer)
    db.session.commit()
    problems, found = [], []

    def check(page, label, focus=False):
        """The page as it is now, at each width (the same page resized: one walk serves both)."""
        for width, size in WIDTHS.items():
            page.set_viewport_size(size)
            found.extend(axe_violations(page, f"{label} [{language} {width}]"))
            found.extend(reading_problems(page, language, f"{label} [{language} {width}]"))
            if width == "phone":
                found.extend(phone_layout_problems(page, f"{label} [{language} {width}]"))
            if focus:  # the same stylesheet everywhere: a few pages show every kind of focusable element
                found.extend(focus_ring_problems(page, f"{label} [{language} {width}]"))
        page.set_viewport_size(WIDTHS["desktop"])

    visitor = new_page(language, problems)
    for path in ("/", "/auth/signup", "/auth/login", "/auth/forgot"):
        visitor.goto(url(billing, path))
        check(visitor, path, focus=path in ("/", "/auth/login"))
        if path == "/":  # the yearly plan says what it costs a month and what it saves
            expect(visitor.locator("#plan-yearly-per-month")).to_contain_text("%")
    for short, page_path in (("/login", "/auth/login"), ("/signup", "/auth/signup")):  # addresses people type
        visitor.goto(url(billing, short))
        expect(visitor).to_have_url(url(billing, page_path))
    visitor.goto(reset_link)
    check(visitor, "/auth/reset/<token>")

    page = new_page(language, problems)
    sign_in(page, billing, customer.email)
    check(page, "/account (no subscription)")
    page.goto(url(billing, "/"))
    page.locator("#choose-monthly").click()
    page.wait_for_load_state("load")
    check(page, "/account/pay (before paying)", focus=True)
    to_pay = page.locator("#amount-due dt").inner_text()
    page.wait_for_function("() => !!(window.cp && window.cp.CloudPayments)")
    page.locator("#pay-button").click()
    expect(page.locator("#cp-sandbox-dialog")).to_be_visible()
    check(page, "/account/pay (the widget's dialog)")
    for width, size in WIDTHS.items():
        page.set_viewport_size(size)
        # The dialog's five controls from its first: the fields, Pay and Cancel (Tab goes round inside the dialog,
        # tests/account/test_browser_keyboard.py checks that; five steps measure each control once).
        found.extend(focus_ring_problems(page, f"the widget's dialog [{language} {width}]", most=5,
                                         start="#cp-sandbox-card-number"))
    page.set_viewport_size(WIDTHS["desktop"])
    page.locator("#cp-sandbox-card-number").fill(SUCCESS_CARD)
    page.locator("#cp-sandbox-exp-date").fill("12/30")
    page.locator("#cp-sandbox-cvv").fill("123")
    page.locator("#cp-sandbox-pay").click()
    until(page, billing, page.locator("#checkout-done"))
    expect(page.locator("#cp-sandbox-overlay")).to_have_count(0)
    check(page, "/account/pay (paid)")
    expect(page.locator("#amount-due dt")).not_to_have_text(to_pay)  # "Paid", no longer "To pay now"

    db.session.expire_all()
    sub = db.session.scalars(select(Subscription).where(Subscription.customer_id == customer.id)).one()
    invoice = db.session.scalars(select(Invoice).where(Invoice.subscription_id == sub.id)).one()
    payment = db.session.scalars(select(Payment).where(Payment.invoice_id == invoice.id)).one()
    for path in ("/account", "/account/history", f"/account/invoices/{invoice.id}",
                 f"/account/payments/{payment.id}/receipt", f"/account/subscriptions/{sub.id}/change-plan",
                 f"/account/subscriptions/{sub.id}/cancel", "/auth/email", "/auth/password"):
        page.goto(url(billing, path))
        check(page, path, focus=path == "/account")
        if path == "/account/history":  # the invoice's number of the year, never its database id; its kind in words
            expect(page.locator("#invoices")).to_contain_text(invoice.number)
            assert re.fullmatch(r"\d{4}-\d{6}", invoice.number), invoice.number
            expect(page.locator("#invoices")).to_contain_text(FIRST_PAYMENT[language])
        if path.endswith("/cancel"):  # cancelling now says first what goes back to the card
            expect(page.locator("#refund-amount")).to_be_visible()

    page.goto(url(billing, "/account"))
    page.wait_for_load_state("load")
    page.locator("#pause-button").click()
    until(page, billing, page.locator("#pause-scheduled"))
    check(page, "/account (pause scheduled)")

    assert not found, "\n".join(found)
    assert not console_errors(problems), problems
