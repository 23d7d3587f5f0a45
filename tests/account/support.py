"""Subscribing through the pages as a signed-in customer, for the account tests."""
import json
import re

from portal.extensions import db
from portal.models import Invoice, Subscription
from tests.auth.helpers import post

WIDGET_PARAMS = re.compile(r'<script type="application/json" id="widget-params">(.*?)</script>', re.S)


def start_checkout(client, plan_code):
    """Choose a plan on the catalogue: lands on the payment page. Returns (invoice, widget params, page)."""
    response = post(client, "/account/checkout", {"plan": plan_code})
    assert response.status_code == 303, response.get_data(as_text=True)
    page = client.get(response.headers["Location"], headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    params = json.loads(WIDGET_PARAMS.search(html).group(1))
    scheme = re.search(r'data-scheme="(\w+)"', html).group(1)
    invoice = db.session.get(Invoice, int(params["invoiceId"]))
    return invoice, {**params, "scheme": scheme}, page


def subscribe(client, billing, plan_code="monthly", card=None):
    invoice, params, _ = start_checkout(client, plan_code)
    outcome = billing.pay(params, **({"card": card} if card else {}))
    billing.work()
    db.session.expire_all()
    return db.session.get(Subscription, invoice.subscription_id), invoice, outcome


def fragment(client, path, **headers):
    return client.get(path, headers={"HX-Request": "true", "Accept-Language": "en", **headers})
