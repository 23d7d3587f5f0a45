"""CloudPayments' Receipt notification at /webhooks/cloudpayments/receipt: signed like the others (a forged
one is refused and changes nothing), stored once per receipt Id however often it comes, read strictly."""
from urllib.parse import urlencode

import pytest
import requests
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import FiscalReceipt, Transition, WebhookEvent
from portal.providers.base import InvalidNotification
from portal.providers.cloudpayments_notifications import parse_notification, signature
from tests.conftest import SANDBOX_SECRET
from tests.receipts.support import make_seller
from tests.receipts.test_flows import receipt_of, subscribed

FIELDS = {"Id": "3f6c2a8e-1b7d-4c55-9e0a-5d2b8c1f7a10", "DocumentNumber": "17", "SessionNumber": "1",
          "Number": "17", "FiscalSign": "2874510443", "FiscalNumber": "9999078900004792",
          "RegNumber": "0000000001002292", "Type": "Income", "Amount": "299.00", "DateTime": "2026-12-07 10:01:00",
          "TransactionId": "1234567", "InvoiceId": "1", "AccountId": "user-1", "Url": "https://receipts.example/r/1"}


def test_receipt_notification_reads_the_fiscal_attributes_and_the_qr_string():
    notification = parse_notification("receipt", urlencode(FIELDS).encode(), "application/x-www-form-urlencoded")
    fiscal = notification.fiscal
    assert (notification.transaction_id, fiscal.payment_transaction_id) == (FIELDS["Id"], "1234567")
    assert (fiscal.fiscal_storage_number, fiscal.fiscal_document_number, fiscal.fiscal_sign, fiscal.amount_minor) == (
        "9999078900004792", "17", "2874510443", 29900)
    assert fiscal.qr == "t=20261207T1001&s=299.00&fn=9999078900004792&i=17&fp=2874510443&n=1"


@pytest.mark.parametrize("field, value", [("FiscalSign", "12ab"), ("Type", "Expense"), ("Amount", "1e3")])
def test_a_malformed_receipt_notification_is_invalid_but_keyed_by_its_id(field, value):
    body = urlencode({**FIELDS, field: value}).encode()
    with pytest.raises(InvalidNotification) as raised:
        parse_notification("receipt", body, "application/x-www-form-urlencoded")
    assert raised.value.transaction_id == FIELDS["Id"]


def test_a_forged_receipt_notification_is_refused_and_records_nothing(receipts_billing):
    body = urlencode(FIELDS).encode()
    response = requests.post(f"{receipts_billing.live.portal_url}/webhooks/cloudpayments/receipt", data=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded",
                                      "Content-HMAC": signature("not-the-secret", body)}, timeout=10)
    assert (response.status_code, response.json()["code"]) == (401, 13)
    assert db.session.scalar(select(func.count()).select_from(FiscalReceipt)) == 0
    [rejected] = db.session.scalars(select(WebhookEvent).where(WebhookEvent.kind == "receipt")).all()
    assert rejected.status == "rejected"
    assert signature(SANDBOX_SECRET, body) != signature("not-the-secret", body)


def test_a_receipt_notification_delivered_twice_registers_the_receipt_once(receipts_billing):
    make_seller()
    sub, invoice = subscribed(receipts_billing, "cloudpayments")
    receipt = receipt_of(invoice)
    [delivery] = receipts_billing.sandbox("GET", "/notifications?type=receipt").json()
    assert delivery["delivered"] is True
    assert receipts_billing.sandbox("POST", f"/notifications/{delivery['id']}/redeliver").status_code == 200
    receipts_billing.work()

    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(WebhookEvent).where(WebhookEvent.kind == "receipt")) == 1
    assert db.session.scalars(select(Transition.event).where(Transition.entity_type == "receipt",
                                                             Transition.entity_id == receipt.id)).all() == ["register"]
