"""In a real Chromium against the portal and the sandbox over HTTP: staff move a customer's test clock from
the admin pages and watch the subscription go through its trial end, a failed renewal, dunning and expiry."""
import re

from portal.extensions import db
from tests.admin.conftest import make_staff
from tests.admin.test_browser import expect, pytestmark, signed_in_page  # noqa: F401  (skip without Chromium)
from tests.browser import console_errors
from tests.factories import make_customer, make_plan
from tests.flows.conftest import LATER_DECLINED_CARD


def move_clock(page, billing, days, status):
    """Ask for `days`, confirm, let the workers run the ticks, and see the subscription in `status`."""
    page.fill("#test-clock-days", str(days))
    page.get_by_role("button", name="Advance…").click()
    expect(page.locator("#test-clock-confirm")).to_contain_text(f"Move the clock {days} day")
    page.get_by_role("button", name="Move the clock").click()
    expect(page.locator("#flashes")).to_contain_text("the ticks run now")
    for _ in range(20):
        billing.work()
        page.reload()
        if page.locator(".subscription-row .status").first.inner_text().strip() == status:
            return
    expect(page.locator(".subscription-row .status").first).to_have_text(status)


def test_staff_drive_a_subscription_through_trial_end_dunning_and_expiry_with_the_test_clock(chromium, billing):
    make_plan(code="trial", amount=29900, trial_days=7)
    customer = make_customer(email="clocked@example.com")
    sub, _, params = billing.checkout(customer, "trial")
    assert billing.pay(params, card=LATER_DECLINED_CARD)["Success"] is True  # token charges will decline
    billing.work()
    staff = make_staff()
    db.session.commit()
    problems = []

    page = signed_in_page(chromium, billing, staff.email, problems)
    page.goto(billing.live.portal_url + f"/admin/customers/{customer.id}")
    page.locator("#test-clock-link").click()
    expect(page.locator(".subscription-row .status").first).to_have_text("trialing")
    expect(page.locator("#clock-offset")).to_have_text("none")

    move_clock(page, billing, 8, "past due")  # the trial ended a day ago; its first charge declined
    expect(page.locator("#clock-offset")).to_contain_text(re.compile(r"^8(\.0+)? days"))
    move_clock(page, billing, 1, "past due")  # first retry, declined
    move_clock(page, billing, 2, "past due")  # second retry, declined
    move_clock(page, billing, 2, "expired")  # last retry declined: dunning is over

    page.goto(billing.live.portal_url + "/admin/audit")
    expect(page.locator('.audit-row[data-action="advance_test_clock"]').first).to_contain_text("move the test clock")
    billing.assert_no_failed_jobs()
    assert not console_errors(problems), problems
