"""A customer pays with YooKassa in a real Chromium: staff made it the default for RUB, the pay page
loads the YooKassa sandbox's embedded widget with the payment's confirmation token, the card form is
filled in, and the page's status turns active once the confirmed notification is applied.

The page is served as `make run` serves it: the sandbox mounted on the portal's own origin at
/sandbox/yookassa (the standalone sandbox answers the widget across origins too: tests/sandbox/yookassa/test_api.py)."""
import os
import threading
from types import SimpleNamespace

import pytest
import requests
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server

from portal.billing.provider_choice import set_default_provider
from portal.extensions import db
from portal.models import Payment
from portal.providers import forget_providers
from tests.account.test_browser import browser, choose_plan, open_page, sign_up, until  # noqa: F401
from tests.browser import CHROMIUM
from tests.factories import make_plan

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"browser tests need Chromium at {CHROMIUM}")
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright (requirements-dev.txt)")
expect = sync_api.expect


@pytest.fixture
def one_origin(app, live, billing):
    """The portal and the YooKassa sandbox (the same instance the API calls reach) on one origin."""
    server = make_server("127.0.0.1", 0, DispatcherMiddleware(app.wsgi_app, {"/sandbox/yookassa": live.yookassa_app}),
                         threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_port}"
    widget, public = app.config["YOOKASSA_WIDGET_URL"], app.config["PUBLIC_URL"]
    app.config.update(YOOKASSA_WIDGET_URL=f"{origin}/sandbox/yookassa/widget.js", PUBLIC_URL=origin)
    forget_providers(app)
    billing.live = SimpleNamespace(**{**vars(live), "portal_url": origin})
    yield origin
    app.config.update(YOOKASSA_WIDGET_URL=widget, PUBLIC_URL=public)
    forget_providers(app)
    server.shutdown()


def test_a_customer_pays_in_the_yookassa_widget_and_watches_it_turn_active(open_page, billing, live, mailbox,  # noqa: F811
                                                                           one_origin):
    requests.post(f"{live.yookassa_url}/_control/reset", timeout=5).raise_for_status()
    make_plan(code="monthly", amount=29900)
    set_default_provider("RUB", "yookassa", actor="staff:test")
    db.session.commit()
    page = open_page()
    sign_up(page, billing, "yk-viewer@example.com", mailbox)
    choose_plan(page, billing)
    expect(page.locator("#checkout")).to_have_attribute("data-provider", "yookassa")

    page.wait_for_load_state("load")
    page.locator("#pay-button").click()
    page.locator("#yk-sandbox-card-number").fill("5555 5555 5555 4444")
    page.locator("#yk-sandbox-expiry").fill("12/30")
    page.locator("#yk-sandbox-csc").fill("123")
    page.locator("#yk-sandbox-pay").click()

    done = until(page, billing, page.locator("#checkout-done"))
    expect(done).to_contain_text("Your subscription is active.")
    db.session.expire_all()
    [payment] = db.session.query(Payment).all()
    assert (payment.provider, payment.status) == ("yookassa", "completed")


def test_a_russian_pay_page_opens_the_yookassa_widget_in_russian(open_page, billing, live, mailbox,  # noqa: F811
                                                                 one_origin):
    """The provider's widget speaks the payment's confirmation.locale: the page makes the payment in its language."""
    requests.post(f"{live.yookassa_url}/_control/reset", timeout=5).raise_for_status()
    make_plan(code="monthly", amount=29900)
    set_default_provider("RUB", "yookassa", actor="staff:test")
    db.session.commit()
    page = open_page("ru-RU")
    sign_up(page, billing, "yk-zritel@example.com", mailbox)
    choose_plan(page, billing)
    expect(page.locator("#checkout")).to_have_attribute("data-provider", "yookassa")

    page.wait_for_load_state("load")
    page.locator("#pay-button").click()
    form = page.locator("#yk-sandbox-form")
    expect(form.locator("h2")).to_have_text("Оплата картой (песочница ЮKassa)")
    expect(form.locator("label[for=yk-sandbox-card-number]")).to_have_text("Номер карты")
    expect(page.locator("#yk-sandbox-pay")).to_have_text("Оплатить 299,00 ₽")
    assert "Card" not in form.inner_text() and "Pay " not in form.inner_text()
    page.locator("#yk-sandbox-card-number").fill("5555 5555 5555 4444")
    page.locator("#yk-sandbox-expiry").fill("12/30")
    page.locator("#yk-sandbox-csc").fill("123")
    page.locator("#yk-sandbox-pay").click()

    expect(until(page, billing, page.locator("#checkout-done"))).to_contain_text("Подписка активна.")
