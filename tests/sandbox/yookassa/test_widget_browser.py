"""The sandbox's widget.js in a real Chromium (Debian's /usr/bin/chromium, Playwright), mounted under
/sandbox/yookassa of a host page as the portal mounts it: the confirmation_token flow end to end."""

import json
import os

import pytest
from flask import Flask, request
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from tests.browser import CHROMIUM, chromium

from .conftest import YooKassaClient, serve, webhooks, yookassa_app

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"browser tests need Chromium at {CHROMIUM}: apt-get install -y chromium")
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright (requirements-dev.txt)")
expect = sync_api.expect

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Checkout</title></head><body>
<div id="payment-form"></div>
<script src="/sandbox/yookassa/widget.js"></script>
<script>
window.events = [];
const options = %s;
const checkout = new window.YooMoneyCheckoutWidget({
  confirmation_token: options.token, return_url: options.return_url || undefined,
  customization: {modal: options.modal},
  error_callback(error) { window.events.push('error:' + error.error); }});
if (options.handlers) {
  for (const name of ['success', 'fail', 'complete', 'modal_close']) {
    checkout.on(name, () => window.events.push(name));
  }
}
checkout.render(options.modal ? undefined : 'payment-form').then(() => window.events.push('rendered'));
</script></body></html>"""


@pytest.fixture(scope="module")
def shop(merchant_server):
    """A host app with a checkout page and the YooKassa sandbox mounted at /sandbox/yookassa."""
    host = Flask("shop")

    @host.get("/checkout")
    def checkout():
        return PAGE % json.dumps(json.loads(request.args["options"]))

    @host.get("/done")
    def done():
        return "<p id='done'>back at the shop</p>"

    sandbox = yookassa_app(merchant_server.url)
    server = serve(DispatcherMiddleware(host, {"/sandbox/yookassa": sandbox}))
    url = f"http://127.0.0.1:{server.server_port}"
    yield url, YooKassaClient(url + "/sandbox/yookassa", sandbox)
    server.shutdown()
    sandbox.extensions["yookassa_sandbox"].shutdown()


@pytest.fixture(scope="module")
def browser():
    with chromium(sync_api) as browser:
        yield browser


@pytest.fixture
def checkout(browser, shop, merchant):
    """Opens the checkout page for a new payment; returns (page, payment, client)."""
    url, client = shop
    client.control("/reset")
    contexts, problems = [], []

    def open_checkout(payment=None, **options):
        payment = payment or client.create_payment(capture=True, save=True)
        context = browser.new_context(viewport={"width": 900, "height": 800})
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        contexts.append(context)
        opts = {"token": payment["confirmation"]["confirmation_token"], "handlers": True, "modal": False, **options}
        page.goto(f"{url}/checkout?options={json.dumps(opts)}")
        return page, payment, client

    yield open_checkout
    for context in contexts:
        context.close()
    assert problems == []


def fill_card(page, number, expiry="12/30"):
    page.fill("#yk-sandbox-card-number", number)
    page.fill("#yk-sandbox-expiry", expiry)
    page.fill("#yk-sandbox-csc", "123")
    page.click("#yk-sandbox-pay")


def events(page):
    return page.evaluate("window.events")


def test_customer_pays_in_the_embedded_form_and_the_page_hears_success(checkout, merchant):
    page, payment, client = checkout()
    expect(page.locator("#yk-sandbox-pay")).to_have_text("Pay 299.00 RUB")

    fill_card(page, "5555 5555 5555 4444")

    expect(page.locator("#yk-sandbox-result")).to_have_text("Payment succeeded")
    assert events(page) == ["rendered", "success", "complete"]
    paid = client.call("GET", f"/payments/{payment['id']}")
    assert paid["status"] == "succeeded" and paid["payment_method"]["saved"] is True
    assert webhooks(merchant)[0]["json"]["event"] == "payment.succeeded"


def test_three_ds_card_asks_a_code_and_can_fail_it(checkout):
    page, payment, client = checkout()
    fill_card(page, "5555555555554477")
    expect(page.locator("#yk-sandbox-3ds")).to_be_visible()

    page.fill("#yk-sandbox-3ds", "1234")
    page.click("#yk-sandbox-3ds-fail")

    expect(page.locator("#yk-sandbox-result")).to_have_text("Payment declined: 3d_secure_failed")
    assert events(page) == ["rendered", "fail", "complete"]
    assert client.call("GET", f"/payments/{payment['id']}")["status"] == "canceled"


def test_three_ds_card_succeeds_with_the_code(checkout):
    page, payment, client = checkout()
    fill_card(page, "5555555555554477")
    page.fill("#yk-sandbox-3ds", "1234")
    page.click("#yk-sandbox-3ds-submit")

    expect(page.locator("#yk-sandbox-result")).to_have_text("Payment succeeded")
    paid = client.call("GET", f"/payments/{payment['id']}")
    assert paid["authorization_details"]["three_d_secure"]["applied"] is True


def test_a_typo_keeps_the_form_open_without_an_event(checkout):
    page, payment, client = checkout()
    fill_card(page, "5555 5555 5555 4445")

    expect(page.locator("#yk-sandbox-result")).to_have_text("Invalid card number")
    assert events(page) == ["rendered"]
    fill_card(page, "5555555555550517")
    expect(page.locator("#yk-sandbox-result")).to_have_text("Payment declined: insufficient_funds")
    assert events(page) == ["rendered", "fail", "complete"]


def test_a_used_token_calls_error_callback_with_token_expired(checkout):
    page, payment, client = checkout()
    fill_card(page, "5555555555554444")
    expect(page.locator("#yk-sandbox-result")).to_have_text("Payment succeeded")

    again, _, _ = checkout(payment)

    again.wait_for_function("window.events.length >= 2")
    assert events(again) == ["error:token_expired", "rendered"]
    assert again.locator("#yk-sandbox-form").count() == 0


def test_modal_widget_opens_a_dialog_and_reports_modal_close(checkout):
    page, payment, client = checkout(modal=True)
    expect(page.locator("#yk-sandbox-overlay[role=dialog]")).to_be_visible()

    page.click("#yk-sandbox-close")

    expect(page.locator("#yk-sandbox-overlay")).to_have_count(0)
    assert events(page) == ["rendered", "modal_close"]


def test_without_handlers_the_widget_returns_to_return_url(checkout, shop):
    url, _ = shop
    page, payment, client = checkout(handlers=False, return_url=f"{url}/done")

    fill_card(page, "5555555555554444")

    expect(page.locator("#done")).to_have_text("back at the shop")
