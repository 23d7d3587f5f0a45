"""axe-core on every staff page, in Russian and English, on a desktop and a phone: no violation of impact serious
or critical (tests/accessibility.py runs axe); on the phone no page wider than the screen and every stacked table's
cells labelled with their column. The pages show a customer with a subscription paid through the sandbox, so the
tables, the timeline and the forms have rows to render."""
import os

import pytest
from sqlalchemy import select

from portal import clock
from portal.dates import day_text
from portal.extensions import db
from portal.models import WebhookEvent
from tests.accessibility import LOCALES, WIDTHS, axe_violations, focus_ring_problems, phone_layout_problems
from tests.admin.conftest import make_staff
from tests.admin.support import completed_payment, paid_subscription
from tests.auth.helpers import PASSWORD
from tests.browser import CHROMIUM, chromium, console_errors
from tests.factories import make_customer
from tests.reading import reading_problems

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"browser tests need Chromium at {CHROMIUM}")
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright (requirements-dev.txt)")


@pytest.fixture(scope="module")
def browser():
    with chromium(sync_api) as browser:
        yield browser


def staff_pages(sub):
    payment = completed_payment(sub)
    event = db.session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).first()
    return ["/admin/", "/admin/plans", "/admin/plans/new", f"/admin/plans/{sub.plan_id}/edit", "/admin/customers",
            "/admin/customers?q=reader", f"/admin/customers/{sub.customer_id}", "/admin/subscriptions",
            f"/admin/subscriptions/{sub.id}", f"/admin/subscriptions/{sub.id}/cancel",
            f"/admin/payments/{payment.id}", f"/admin/payments/{payment.id}/refund", "/admin/providers",
            "/admin/seller", "/admin/review", "/admin/webhooks", f"/admin/webhooks/{event.id}", "/admin/operations",
            "/admin/audit", f"/admin/customers/{sub.customer_id}/test-clock"]


# Each revenue chart's drawing beside the card it sits in: it fills the card's width, its last day label is today.
CHART_FIT = """() => Array.from(document.querySelectorAll('svg.bar-chart')).map(svg => {
  const box = svg.parentElement, style = getComputedStyle(box);
  const inner = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const labels = svg.querySelectorAll('text.axis');
  return {drawn: svg.getBoundingClientRect().width, inner: inner,
          last: labels.length ? labels[labels.length - 1].textContent.trim() : null};
})"""


def chart_problems(page, label):
    today = day_text(clock.now().date(), page.evaluate("() => document.documentElement.lang"))
    charts = page.evaluate(CHART_FIT)
    problems = [] if charts else [f"{label}: no revenue chart"]
    for chart in charts:
        if chart["drawn"] < 0.98 * chart["inner"]:
            problems.append(f"{label}: the chart is {chart['drawn']:.0f} px wide in a card of {chart['inner']:.0f} px")
        if chart["last"] != today:
            problems.append(f"{label}: the chart's last day label is {chart['last']!r}, not today ({today!r})")
    return problems


# Lists and the link to their CSV export.
EXPORTS = {"/admin/customers": "#export-customers", "/admin/subscriptions": "#export-subscriptions"}
# Pages whose focus rings are measured (Tab through each, every ring at least 3:1 against what surrounds it).
FOCUS_SAMPLES = ("/admin/", "/admin/customers?q=reader")


@pytest.mark.parametrize("language", LOCALES)
def test_staff_pages_have_no_serious_accessibility_violations_and_fit_a_phone(browser, billing, language):
    sub = paid_subscription(billing, customer=make_customer(email="reader@example.com"))
    staff = make_staff()
    pages = staff_pages(sub)
    db.session.commit()
    problems, found = [], []
    context = browser.new_context(locale=LOCALES[language], viewport=WIDTHS["desktop"])
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.goto(billing.live.portal_url + "/auth/login")
        page.fill("#email", staff.email)
        page.fill("#password", PASSWORD)
        page.locator("form button[type=submit]").last.click()
        page.wait_for_url("**/admin/**")
        for path in pages:
            page.goto(billing.live.portal_url + path)
            for width, size in WIDTHS.items():  # the same page resized: one walk serves both widths
                page.set_viewport_size(size)
                found.extend(axe_violations(page, f"{path} [{language} {width}]"))
                found.extend(reading_problems(page, language, f"{path} [{language} {width}]"))
                if width == "phone":
                    found.extend(phone_layout_problems(page, f"{path} [{language} {width}]"))
                if path == "/admin/":
                    found.extend(chart_problems(page, f"{path} [{language} {width}]"))
                if path == f"/admin/subscriptions/{sub.id}" and page.locator('a[href$="/retry-charge"]').count():
                    found.append(f"{path} [{language} {width}]: a retry is offered on an active subscription")
                if path in EXPORTS and not page.locator(EXPORTS[path]).is_visible():
                    found.append(f"{path} [{language} {width}]: no visible link to its export {EXPORTS[path]}")
                if path in FOCUS_SAMPLES:  # the staff stylesheet's every kind of focusable element, on the dark header
                    found.extend(focus_ring_problems(page, f"{path} [{language} {width}]"))
            page.set_viewport_size(WIDTHS["desktop"])
    finally:
        context.close()
    assert not found, "\n".join(found)
    assert not console_errors(problems), problems
