"""The mailed links in a real Chromium: a new customer confirms the address, a forgetful one resets the
password, each clicking the link in the mail the test SMTP server received (launch and fixtures:
tests/account/test_browser.py)."""
import re

from portal.accounts import find_by_email, password_matches
from portal.extensions import db
from tests.account import test_browser as ui
from tests.factories import make_customer
from tests.mailbox import link_to

pytestmark = ui.pytestmark
browser, open_page = ui.browser, ui.open_page
expect, url, PASSWORD = ui.expect, ui.url, ui.PASSWORD


def test_a_new_customer_confirms_the_address_by_the_link_in_the_mail(open_page, billing, mailbox):
    page = open_page()
    page.goto(url(billing, "/auth/signup"))
    page.locator("#email").fill("first.timer@example.com")
    page.locator("#password").fill(PASSWORD)
    page.locator("#password_again").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    expect(page.locator("#check-mail-text")).to_contain_text("We have sent a link to first.timer@example.com")

    [mail] = mailbox.wait_for("first.timer@example.com", work=billing.work)
    assert mail["Subject"] == "Confirm your email address"
    page.goto(link_to(mail, "/auth/verify/"))
    expect(page.locator("h1")).to_have_text("Confirm your email address")
    page.locator("#password").fill(PASSWORD)
    page.locator("#confirm-button").click()

    expect(page).to_have_url(url(billing, "/account"))
    expect(page.locator("#flashes")).to_contain_text("Your email address is confirmed.")
    expect(page.locator("#email-unconfirmed")).to_have_count(0)
    db.session.expire_all()
    assert find_by_email("first.timer@example.com").email_verified_at is not None


def test_a_forgotten_password_is_reset_from_the_mail_and_other_sessions_end(open_page, billing, mailbox):
    make_customer(email="forgetful@example.com")
    elsewhere = open_page()
    ui.sign_in(elsewhere, billing, "forgetful@example.com")  # another device, signed in before the reset

    page = open_page()
    page.goto(url(billing, "/auth/login"))
    page.locator("#forgot-password-link").click()
    page.locator("#email").fill("forgetful@example.com")
    page.locator("form button[type=submit]").click()
    expect(page.locator("#check-mail-text")).to_contain_text("If an account uses forgetful@example.com")

    [mail] = mailbox.wait_for("forgetful@example.com", work=billing.work)
    page.goto(link_to(mail, "/auth/reset/"))
    page.locator("#new_password").fill("a brand new password")
    page.locator("#new_password_again").fill("a brand new password")
    page.locator("form button[type=submit]").click()

    expect(page).to_have_url(url(billing, "/account"))
    expect(page.locator("#flashes")).to_contain_text("Every device has been signed out.")
    db.session.expire_all()
    assert password_matches(find_by_email("forgetful@example.com"), "a brand new password")
    elsewhere.goto(url(billing, "/account"))
    expect(elsewhere).to_have_url(re.compile(r"/auth/login"))
