"""In a real Chromium (Debian's /usr/bin/chromium) driven by Playwright against the portal and the sandbox over HTTP:
staff refund part of a payment from the subscription page (confirm, job, htmx progress) and the customer's own page
then shows the refund."""
import os
import time

import pytest

from portal.extensions import db
from tests.admin.conftest import make_staff
from tests.admin.support import paid_subscription
from tests.auth.helpers import PASSWORD
from tests.browser import CHROMIUM, console_errors
from tests.browser import chromium as launched_chromium
from tests.factories import make_customer

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"browser tests need Chromium at {CHROMIUM}")
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright (requirements-dev.txt)")
expect = sync_api.expect


@pytest.fixture
def chromium():
    with launched_chromium(sync_api) as browser:
        yield browser


def signed_in_page(chromium, billing, email, problems):
    context = chromium.new_context(locale="en-US")
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(billing.live.portal_url + "/auth/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_load_state()
    return page


def until_visible(page, billing, locator, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        billing.work()
        if locator.count() and locator.first.is_visible():
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"{locator} did not appear")


def test_staff_refund_shows_on_the_customers_page(chromium, billing):
    customer = make_customer(email="viewer@example.com")
    sub = paid_subscription(billing, customer=customer)
    staff = make_staff()
    db.session.commit()
    problems = []

    admin = signed_in_page(chromium, billing, staff.email, problems)
    admin.goto(billing.live.portal_url + f"/admin/subscriptions/{sub.id}")
    admin.get_by_role("link", name="Refund…").click()
    # More than was paid: refused with a 422 that htmx swaps in; the browser's own line for that status is the
    # only thing the console may say of it (htmx logs no error for a 4xx).
    admin.fill("#refund-amount", "9999")
    admin.fill("#refund-reason", "goodwill for a bad stream")
    admin.get_by_role("button", name="Review").click()
    expect(admin.locator("#refund-error")).to_contain_text("At most RUB 299.00 of this payment can still be refunded")
    assert [line for line in problems if "422" in line or "responseError" in line] == [
        "Failed to load resource: the server responded with a status of 422 (UNPROCESSABLE ENTITY)"]
    admin.fill("#refund-amount", "100")
    admin.fill("#refund-reason", "goodwill for a bad stream")
    admin.get_by_role("button", name="Review").click()
    expect(admin.locator(".confirm-text")).to_contain_text("RUB 100.00")
    admin.get_by_role("button", name="Confirm refund").click()
    until_visible(admin, billing, admin.locator(".action-succeeded"))
    expect(admin.locator(".action-succeeded")).to_contain_text("succeeded")
    # The state section reloaded itself (billing-changed): the payment shows the refunded amount.
    expect(admin.locator("#payments")).to_contain_text("RUB 100.00")

    viewer = signed_in_page(chromium, billing, customer.email, problems)
    viewer.goto(billing.live.portal_url + "/account")
    expect(viewer.locator(".refund-line").first).to_contain_text("100")
    assert not console_errors(problems), problems


def test_staff_refund_a_held_payment_from_the_review_queue(chromium, billing):
    from sqlalchemy import select

    from portal.models import Payment
    from tests.factories import make_plan
    from tests.flows.test_cancel_and_refund import TYPE_REFUND

    make_plan(code="monthly", amount=29900)
    sub, invoice, params = billing.checkout(make_customer(), "monthly")
    billing.sandbox("POST", "/control", json={"urls": {"check": ""}})  # no Check stops the wrong currency
    assert billing.pay({**params, "currency": "USD"})["Success"] is True
    billing.work()
    [payment] = db.session.scalars(select(Payment)).all()
    assert payment.needs_review
    staff = make_staff()
    db.session.commit()
    problems = []

    admin = signed_in_page(chromium, billing, staff.email, problems)
    admin.goto(billing.live.portal_url + "/admin/")
    expect(admin.locator("#kpi-review .kpi-value")).to_have_text("1")
    admin.locator("#kpi-review a").click()
    item = admin.locator(f"#review-{payment.id}")
    expect(item).to_contain_text(f"paid in USD, but invoice {invoice.id} is billed in RUB")
    item.locator(f"#refund-note-{payment.id}").fill("paid in the wrong currency")
    item.get_by_role("button", name="Refund USD 299.00").click()
    until_visible(admin, billing, admin.locator(".action-succeeded"))
    expect(admin.locator(".action-succeeded")).to_contain_text("is succeeded")

    admin.goto(billing.live.portal_url + "/admin/review")
    expect(admin.locator(f"#review-{payment.id}")).to_have_count(0)
    expect(admin.locator(f"#resolved-{payment.id}")).to_contain_text("refunded")
    refunds = [t for t in billing.sandbox("GET", "/transactions").json() if t["Type"] == TYPE_REFUND]
    assert [(str(t["OriginalTransactionId"]), t["Currency"]) for t in refunds] == [
        (payment.provider_transaction_id, "USD")]
    assert not console_errors(problems), problems
