"""Sign out everywhere in a real Chromium: two devices of one customer, and a copied cookie, all end with one
click (finding 2 of issue 14). Same browser set-up as test_browser.py."""
import re

from tests.account import test_browser as flows
from tests.factories import make_customer

pytestmark = flows.pytestmark
# The browser and its pages, fixtures of the customer flows' module.
browser, open_page = flows.browser, flows.open_page
expect, sign_in, url = flows.expect, flows.sign_in, flows.url


def test_sign_out_everywhere_ends_the_session_on_every_device(open_page, billing):
    customer = make_customer(email="two.devices@example.com")
    laptop, phone, copy = open_page(), open_page(), open_page()
    sign_in(laptop, billing, customer.email)
    sign_in(phone, billing, customer.email)
    copy.context.add_cookies([c for c in phone.context.cookies() if c["name"] == "session"])
    copy.goto(url(billing, "/account"))
    expect(copy).to_have_url(url(billing, "/account"))  # the copied cookie works while the session lives

    laptop.get_by_role("button", name="Sign out everywhere").click()
    expect(laptop).to_have_url(url(billing, "/auth/login"))
    expect(laptop.locator("body")).to_contain_text("You have signed out on every device.")

    for device in (laptop, phone, copy):
        device.goto(url(billing, "/account"))
        expect(device).to_have_url(re.compile(r"/auth/login\?next=/account$"))
