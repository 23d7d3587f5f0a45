"""The YooKassa payment behind a checkout is made in the customer's language (confirmation.locale), since
the provider's widget takes its language from the payment, not from the page: the pay page's language for
the pay page, the customer's own language for a checkout opened without a page (the platform API)."""
import json

import pytest
import requests

from portal.billing.checkout import start_checkout, widget_parameters
from portal.billing.provider_choice import set_default_provider
from portal.extensions import db
from tests.account.support import WIDGET_PARAMS
from tests.auth.helpers import post, signed_in_customer
from tests.factories import make_customer, make_plan


@pytest.fixture
def yookassa(billing, live):
    """YooKassa pays new RUB checkouts; its sandbox starts empty (invoice ids, hence its keys, start again)."""
    requests.post(f"{live.yookassa_url}/_control/reset", timeout=5).raise_for_status()
    set_default_provider("RUB", "yookassa", actor="staff:test")
    make_plan(code="monthly", amount=29900)
    db.session.commit()
    return live.yookassa_url


def widget_locale(sandbox_url, token):
    """The language the widget opens in: what the sandbox kept of the payment's confirmation.locale."""
    session = requests.get(f"{sandbox_url}/widget/session", params={"confirmation_token": token}, timeout=5)
    assert session.status_code == 200, session.text
    assert session.json()["amount"] == {"value": "299.00", "currency": "RUB"}
    return session.json()["locale"]


@pytest.mark.parametrize(("switch", "accept_language", "locale"), [
    (None, "en-US,en;q=0.9", "en_US"),
    (None, "ru-RU,ru;q=0.9", "ru_RU"),
    ("ru", "en-US,en;q=0.9", "ru_RU"),  # the language switch sticks over the browser's languages
    ("en", "ru-RU,ru;q=0.9", "en_US"),
])
def test_the_pay_page_makes_the_yookassa_payment_in_the_page_language(client, yookassa, switch, accept_language,
                                                                       locale):
    signed_in_customer(client)
    if switch:
        client.get(f"/locale/{switch}")
    chosen = post(client, "/account/checkout", {"plan": "monthly"})
    assert chosen.status_code == 303, chosen.get_data(as_text=True)

    page = client.get(chosen.headers["Location"], headers={"Accept-Language": accept_language})

    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-provider="yookassa"' in html
    params = json.loads(WIDGET_PARAMS.search(html).group(1))
    assert widget_locale(yookassa, params["confirmation_token"]) == locale


@pytest.mark.parametrize(("language", "locale"), [("en", "en_US"), ("ru", "ru_RU"), (None, "ru_RU")])
def test_a_checkout_opened_without_a_page_speaks_the_customers_language(yookassa, language, locale):
    customer = make_customer()
    customer.locale = language
    db.session.commit()
    _, invoice = start_checkout(customer, "monthly")

    params = widget_parameters(invoice)  # as the platform API's /pay opens it

    db.session.commit()
    assert widget_locale(yookassa, params["confirmation_token"]) == locale
