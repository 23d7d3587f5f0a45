"""The sandbox's widget.js in a real Chromium (Debian's /usr/bin/chromium, Playwright), mounted under
/sandbox/yookassa of a host page as the portal mounts it: the confirmation_token flow end to end."""

import json
import os
import re

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

    def open_checkout(payment=None, locale="en_US", **options):
        payment = payment or client.create_payment(capture=True, save=True, locale=locale)
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


def widget_words(page):
    """Every text the widget itself shows or announces (hidden steps, placeholders and labels included),
    without the merchant's description."""
    return page.evaluate("""() => {
      const form = document.getElementById('yk-sandbox-form').cloneNode(true);
      form.querySelector('#yk-sandbox-description').remove();
      const said = [...form.querySelectorAll('[placeholder], [aria-label]')]
        .map(node => (node.getAttribute('placeholder') || '') + ' ' + (node.getAttribute('aria-label') || ''));
      return [form.getAttribute('aria-label'), form.textContent, ...said].join(' ');
    }""")


ENGLISH_WORDS = re.compile(r"\b(Card|card|Pay|Valid|thru|Payment|payment|succeeded|declined|Invalid|number|"
                           r"Confirm|Fail|Close|Processing|digits|code)\b")


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

    expect(page.locator("#yk-sandbox-result")).to_have_text("Payment declined: 3-D Secure failed")
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
    expect(page.locator("#yk-sandbox-result")).to_have_text("Payment declined: insufficient funds")
    expect(page.locator("#yk-sandbox-form")).to_have_attribute("data-reason", "insufficient_funds")
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


def test_an_en_US_payment_opens_the_widget_in_english(checkout):
    page, payment, client = checkout(locale="en_US")
    form = page.locator("#yk-sandbox-form")
    expect(form).to_have_attribute("lang", "en")
    expect(form).to_have_attribute("aria-label", "Card payment")
    expect(form.locator("h2")).to_have_text("Card payment (YooKassa sandbox)")
    expect(form.locator("label[for=yk-sandbox-card-number]")).to_have_text("Card number")
    expect(form.locator("label[for=yk-sandbox-expiry]")).to_have_text("Valid thru (MM/YY)")
    expect(page.locator("#yk-sandbox-expiry")).to_have_attribute("placeholder", "MM/YY")
    expect(form.locator("label[for=yk-sandbox-csc]")).to_have_text("CVC")
    expect(form.locator("label[for=yk-sandbox-3ds]")).to_have_text("3-D Secure code (any digits)")
    expect(page.locator("#yk-sandbox-pay")).to_have_text("Pay 299.00 RUB")
    assert not re.search("[а-яё]", widget_words(page), re.I)  # the description is the merchant's, in Russian

    fill_card(page, "5555555555550517")
    expect(page.locator("#yk-sandbox-result")).to_have_text("Payment declined: insufficient funds")


def test_a_ru_RU_payment_opens_the_widget_in_russian_with_roubles_written_the_russian_way(checkout):
    page, payment, client = checkout(locale="ru_RU")
    form = page.locator("#yk-sandbox-form")
    expect(form).to_have_attribute("lang", "ru")
    expect(form).to_have_attribute("aria-label", "Оплата картой")
    expect(form.locator("h2")).to_have_text("Оплата картой (песочница ЮKassa)")
    expect(form.locator("label[for=yk-sandbox-card-number]")).to_have_text("Номер карты")
    expect(form.locator("label[for=yk-sandbox-expiry]")).to_have_text("Срок действия (ММ/ГГ)")
    expect(page.locator("#yk-sandbox-expiry")).to_have_attribute("placeholder", "ММ/ГГ")
    expect(form.locator("label[for=yk-sandbox-csc]")).to_have_text("Код CVC")
    expect(form.locator("label[for=yk-sandbox-3ds]")).to_have_text("Код 3-D Secure (любые цифры)")
    expect(page.locator("#yk-sandbox-pay")).to_have_text("Оплатить 299,00 ₽")
    expect(page.locator("#yk-sandbox-3ds-submit")).to_have_text("Подтвердить")
    assert not ENGLISH_WORDS.search(widget_words(page)), widget_words(page)

    fill_card(page, "5555 5555 5555 4445")
    expect(page.locator("#yk-sandbox-result")).to_have_text("Неверный номер карты")
    fill_card(page, "5555555555554444", expiry="13/30")
    expect(page.locator("#yk-sandbox-result")).to_have_text("Неверный срок действия карты")
    assert events(page) == ["rendered"]

    fill_card(page, "5555555555550517")
    expect(page.locator("#yk-sandbox-result")).to_have_text("Платёж отклонён: недостаточно средств на карте")
    assert events(page) == ["rendered", "fail", "complete"]
    assert not ENGLISH_WORDS.search(widget_words(page)), widget_words(page)


def test_the_russian_dialog_asks_the_3ds_code_and_says_the_payment_went_through_in_russian(checkout):
    page, payment, client = checkout(locale="ru_RU", modal=True)
    expect(page.locator("#yk-sandbox-overlay[role=dialog]")).to_have_accessible_name("Оплата картой (песочница ЮKassa)")
    expect(page.locator("#yk-sandbox-close")).to_have_text("Закрыть")

    fill_card(page, "5555555555554477")
    expect(page.locator("#yk-sandbox-3ds")).to_be_visible()
    expect(page.locator("#yk-sandbox-3ds-fail")).to_have_text("Не проходить 3-D Secure")
    page.fill("#yk-sandbox-3ds", "1234")
    page.click("#yk-sandbox-3ds-submit")

    expect(page.locator("#yk-sandbox-result")).to_have_text("Оплата прошла")
    assert not ENGLISH_WORDS.search(widget_words(page)), widget_words(page)
    assert client.call("GET", f"/payments/{payment['id']}")["status"] == "succeeded"
