"""The staff pages on a phone (390 px), in Russian and English: nothing wider than the screen, and every cell of a
table stacked into cards names its column, in the page's language."""
import os

import pytest

from portal.extensions import db
from tests.accessibility import LOCALES, WIDTHS
from tests.admin.conftest import make_staff
from tests.admin.support import completed_payment, paid_subscription
from tests.auth.helpers import PASSWORD
from tests.browser import CHROMIUM, chromium
from tests.factories import make_customer

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"browser tests need Chromium at {CHROMIUM}")
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright (requirements-dev.txt)")

# Each stacked cell's label, compared with its column's header (the cell's index in its row).
UNLABELLED_CELLS = """() => {
  const wrong = []; let checked = 0;
  for (const table of document.querySelectorAll('main table')) {
    const heads = [...table.querySelectorAll('thead th')].map(th => th.innerText.trim());
    if (!heads.length) continue;
    for (const row of table.querySelectorAll('tbody tr')) {
      [...row.children].forEach((cell, i) => {
        if (cell.colSpan > 1 || !heads[i]) return;
        checked += 1;
        const label = (cell.getAttribute('data-label') || '').trim();
        const shown = getComputedStyle(cell, '::before').content;
        if (label !== heads[i] || shown === 'none' || shown === '""') wrong.push(`${heads[i]}: "${label}" ${shown}`);
      });
    }
  }
  return {checked, wrong};
}"""


@pytest.fixture(scope="module")
def browser():
    with chromium(sync_api) as browser:
        yield browser


@pytest.mark.parametrize("language", LOCALES)
def test_staff_pages_fit_a_phone_and_label_every_stacked_cell(browser, billing, language):
    sub = paid_subscription(billing, customer=make_customer(email="reader@example.com"))
    payment = completed_payment(sub)
    staff = make_staff()
    db.session.commit()
    pages = ["/admin/", "/admin/plans", "/admin/customers", "/admin/customers?q=reader",
             f"/admin/customers/{sub.customer_id}", "/admin/subscriptions", f"/admin/subscriptions/{sub.id}",
             f"/admin/payments/{payment.id}/refund", "/admin/webhooks", "/admin/operations", "/admin/audit"]
    context = browser.new_context(locale=LOCALES[language], viewport=WIDTHS["phone"])
    context.set_default_timeout(10_000)
    wide, unlabelled, checked = [], [], 0
    try:
        page = context.new_page()
        page.goto(billing.live.portal_url + "/auth/login")
        page.fill("#email", staff.email)
        page.fill("#password", PASSWORD)
        page.locator("form button[type=submit]").last.click()
        page.wait_for_url("**/admin/**")
        for path in pages:
            page.goto(billing.live.portal_url + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > WIDTHS["phone"]["width"]:
                wide.append(f"{path}: {width} px")
            cells = page.evaluate(UNLABELLED_CELLS)
            checked += cells["checked"]
            unlabelled.extend(f"{path} {cell}" for cell in cells["wrong"])
    finally:
        context.close()
    assert checked > 30, checked  # the pages have rows: the customers, the subscription, its payments
    assert wide == [], wide
    assert unlabelled == [], unlabelled[:20]
