"""The failed-payment mail in a real Chromium: the customer, not signed in, follows the mail's pay link to the
payment page of the declined renewal, pays with a good card and sees the subscription active; the link opened
that page only (launch and fixtures: tests/account/test_browser.py)."""
import re
from datetime import timedelta

from portal import clock
from portal.extensions import db
from portal.models import Subscription
from tests.account import test_browser as ui
from tests.factories import make_customer
from tests.flows.conftest import SUCCESS_CARD
from tests.mail.support import declined_renewal, renewal_invoice
from tests.mailbox import link_to

pytestmark = ui.pytestmark
browser, open_page = ui.browser, ui.open_page
expect, url = ui.expect, ui.url


def test_the_pay_link_of_a_failed_payment_mail_pays_that_invoice_and_the_subscription_is_active(
        open_page, billing, mailbox):
    customer = make_customer("late.payer@example.com")
    customer.locale = "en"
    db.session.commit()
    sub = declined_renewal(billing, customer)
    mails = mailbox.wait_for(customer.email, count=2, work=billing.work)
    [failed] = [m for m in mails if m["Subject"] == "Your payment did not go through"]
    renewal = renewal_invoice(sub.id)

    page = open_page()
    page.goto(link_to(failed, "/mail/pay/"))
    expect(page).to_have_url(url(billing, f"/account/pay/{renewal.id}"))
    expect(page.locator("h1")).to_have_text("Pay your balance")
    expect(page.locator("#checkout .amount")).to_have_text("RUB 299.00")
    ui.pay_in_widget(page, SUCCESS_CARD)
    ui.close_widget(page)
    ui.until(page, billing, page.locator("#subscription-active"))
    expect(page.locator("#checkout-done")).to_contain_text("Paid. Thank you! Your subscription is active.")

    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).status == "active"
    assert renewal_invoice(sub.id).status == "paid"
    # The link let this visit pay that invoice, nothing more: the account page still asks to sign in.
    page.goto(url(billing, "/account"))
    expect(page).to_have_url(re.compile(r"/auth/login"))
    receipts = mailbox.wait_for(customer.email, count=3, work=billing.work)
    assert receipts[-1]["Subject"] == "Payment received"


def test_a_broken_or_expired_pay_link_says_so(open_page, billing, mailbox):
    customer = make_customer("expired.link@example.com")
    declined_renewal(billing, customer)
    [failed] = [m for m in mailbox.wait_for(customer.email, count=2, work=billing.work)
                if m["Subject"] == "Платёж не прошёл"]
    link = link_to(failed, "/mail/pay/")

    page = open_page(locale="ru-RU", refusals=(400,))  # both links are refused with a 400 and a page saying why
    page.goto(link[:-4])
    expect(page.locator("#link-refused-reason")).to_contain_text("Это не наша ссылка или она обрезана")
    clock.advance(timedelta(days=8))
    page.goto(link)
    expect(page.locator("#link-refused-reason")).to_contain_text("Срок действия ссылки истёк")
