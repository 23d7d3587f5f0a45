"""Hostile and malformed provider notifications at the webhook, over real HTTP on PostgreSQL: each is
answered with a clean 4xx (or stored and marked failed), and the database holds what staff should see."""
import base64
import hashlib
import hmac
from urllib.parse import unquote_plus

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Invoice, Payment, WebhookEvent
from tests.conftest import SANDBOX_SECRET
from tests.factories import make_customer, make_plan
from tests.flows.test_notifications import form, pay_fields, post


def hmac_b64(message: bytes) -> str:
    return base64.b64encode(hmac.new(SANDBOX_SECRET.encode(), message, hashlib.sha256).digest()).decode()


@pytest.fixture
def open_invoice(billing):
    make_plan(code="monthly", amount=29900)
    sub, invoice, _ = billing.checkout(make_customer(), "monthly")
    return invoice


def events():
    db.session.expire_all()
    return db.session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).all()


# --- finding 4: the signature covers the bytes the parser reads -------------------------------------------------


def test_a_decoded_form_signature_cannot_smuggle_another_invoice_into_a_re_encoded_body(billing, live,
                                                                                         open_invoice):
    """Signed (X-Content-HMAC, decoded form) for invoice 888888 with `x&InvoiceId=<ours>&…` inside Name,
    then re-sent with %26/%3D decoded in the raw body and no Content-HMAC: both bodies decode to the same
    text, but the parser reads InvoiceId=<ours> from the second. It must be refused, our invoice unpaid."""
    smuggled = (f"x&InvoiceId={open_invoice.id}&AccountId={open_invoice.customer.external_id}"
                "&Amount=299.00&Currency=RUB")
    honest = form(pay_fields(open_invoice, 7770041, InvoiceId="888888", Name=smuggled)).decode()
    resent = honest.replace("%26", "&").replace("%3d", "=")
    assert unquote_plus(resent) == unquote_plus(honest)  # what X-Content-HMAC signs is the same
    headers = {"X-Content-HMAC": hmac_b64(unquote_plus(honest).encode()),
               "Content-Type": "application/x-www-form-urlencoded"}
    response = post(live, "pay", resent.encode(), headers)
    assert response.status_code == 401 and response.json()["code"] != 0
    billing.work()
    db.session.expire_all()
    assert db.session.get(Invoice, open_invoice.id).status == "open"
    assert db.session.scalars(select(Payment)).all() == []
    [event] = events()
    assert (event.status, event.rejection) == ("rejected", "signature missing or invalid")
