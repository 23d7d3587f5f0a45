"""Provider notifications at the webhook: signatures, Check codes, duplicates, order, reconciliation."""
import base64
import hashlib
import hmac
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import quote_plus

import pytest
import requests
from sqlalchemy import func, select

from portal import clock
from portal.extensions import db
from portal.models import Invoice, Payment, Subscription, WebhookEvent
from tests.conftest import SANDBOX_SECRET
from tests.factories import make_customer, make_plan
from workers import ticks


def form(fields: dict) -> bytes:
    """Encoded as the provider encodes: lowercase hex escapes and + for spaces."""
    def encode(value):
        return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote_plus(str(value)))

    return "&".join(f"{k}={encode(v)}" for k, v in fields.items()).encode()


def signed(body: bytes, secret=SANDBOX_SECRET) -> dict:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {"Content-HMAC": base64.b64encode(digest).decode(),
            "Content-Type": "application/x-www-form-urlencoded"}


def pay_fields(invoice, transaction_id, **overrides):
    fields = {"TransactionId": transaction_id, "Amount": f"{invoice.amount / 100:.2f}", "Currency": "RUB",
              "PaymentAmount": f"{invoice.amount / 100:.2f}", "PaymentCurrency": "RUB",
              "DateTime": "2026-11-29 10:00:00", "CardFirstSix": "400000", "CardLastFour": "3055",
              "CardType": "Visa", "CardExpDate": "12/30", "TestMode": "1", "Status": "Completed",
              "OperationType": "Payment", "GatewayName": "Test", "InvoiceId": str(invoice.id),
              "AccountId": invoice.customer.external_id, "Email": invoice.customer.email,
              "Description": "Подписка на месяц", "Token": "tk_test_manual", "Data": ""}
    fields.update(overrides)
    return fields


@pytest.fixture
def open_invoice(billing):
    make_plan(code="monthly", amount=29900)
    sub, invoice, _ = billing.checkout(make_customer(), "monthly")
    return invoice


def post(live, kind, body, headers):
    return requests.post(f"{live.portal_url}/webhooks/cloudpayments/{kind}", data=body, headers=headers, timeout=10)


def counts():
    db.session.expire_all()
    return (db.session.scalar(select(func.count()).select_from(Payment)),
            db.session.scalar(select(func.count()).select_from(WebhookEvent).where(WebhookEvent.status != "rejected")))


def test_signed_pay_notification_activates(billing, live, open_invoice):
    body = form(pay_fields(open_invoice, 5550001))
    response = post(live, "pay", body, signed(body))
    assert (response.status_code, response.json()) == (200, {"code": 0})
    billing.work()
    assert db.session.get(Subscription, open_invoice.subscription_id).status == "active"


@pytest.mark.parametrize("tamper", ["forged", "tampered", "unsigned", "wrong secret"])
def test_forged_or_tampered_notification_is_refused_recorded_and_changes_nothing(billing, live, open_invoice,
                                                                                  tamper):
    body = form(pay_fields(open_invoice, 5550002))
    headers = signed(body)
    if tamper == "forged":
        headers["Content-HMAC"] = base64.b64encode(b"x" * 32).decode()
    elif tamper == "tampered":
        body = body.replace(b"Amount=299.00", b"Amount=299.01")
    elif tamper == "unsigned":
        del headers["Content-HMAC"]
    else:
        headers = signed(body, secret="not-the-secret")
    response = post(live, "pay", body, headers)
    assert response.status_code == 401 and response.json()["code"] != 0
    billing.work()
    assert counts() == (0, 0)
    [rejected] = db.session.scalars(select(WebhookEvent)).all()
    assert (rejected.status, rejected.rejection) == ("rejected", "signature missing or invalid")
    assert rejected.body == body  # what was sent is kept for staff
    assert db.session.get(Subscription, open_invoice.subscription_id).status == "pending"


def test_twenty_duplicate_pay_notifications_some_concurrent_record_one_payment(billing, live, open_invoice):
    body = form(pay_fields(open_invoice, 5550003))
    headers = signed(body)
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: post(live, "pay", body, headers), range(15)))
    billing.work()
    answers += [post(live, "pay", body, headers) for _ in range(5)]
    billing.work()
    assert {(a.status_code, a.json()["code"]) for a in answers} == {(200, 0)}
    assert counts() == (1, 1)
    assert db.session.get(Subscription, open_invoice.subscription_id).status == "active"


def test_pay_for_an_invoice_already_paid_by_another_transaction_is_flagged_not_dropped(billing, live, open_invoice):
    for transaction_id in (5550004, 5550005):
        body = form(pay_fields(open_invoice, transaction_id))
        assert post(live, "pay", body, signed(body)).json() == {"code": 0}
    billing.work()
    payments = db.session.scalars(select(Payment).order_by(Payment.id)).all()
    assert [(p.provider_transaction_id, p.needs_review) for p in payments] == [("5550004", False), ("5550005", True)]


def check(live, invoice, **overrides):
    fields = pay_fields(invoice, 5550100, **overrides)
    fields.pop("Token")
    body = form(fields)
    return post(live, "check", body, signed(body)).json()["code"]


def test_check_accepts_a_payable_invoice(billing, live, open_invoice):
    assert check(live, open_invoice) == 0


@pytest.mark.parametrize("overrides,code", [
    ({"InvoiceId": "999999"}, 10),
    ({"InvoiceId": "not-a-number"}, 10),
    ({"InvoiceId": ""}, 10),
    ({"AccountId": "somebody-else"}, 11),
    ({"Amount": "1.00"}, 12),
    ({"Currency": "USD"}, 12),
])
def test_check_codes_for_wrong_payments(billing, live, open_invoice, overrides, code):
    assert check(live, open_invoice, **overrides) == code


def test_check_refuses_a_paid_invoice_with_13_and_an_old_checkout_with_20(billing, live, open_invoice):
    clock.advance(timedelta(hours=25))
    assert check(live, open_invoice) == 20
    clock.reset()
    body = form(pay_fields(open_invoice, 5550006))
    post(live, "pay", body, signed(body))
    billing.work()
    assert check(live, open_invoice) == 13


def test_unknown_notification_type_is_404(live, app):
    assert post(live, "bogus", b"x=1", signed(b"x=1")).status_code == 404


def test_unreadable_body_is_400_and_recorded(live, app):
    body = b"TransactionId=abc&Amount=lots"
    response = post(live, "pay", body, signed(body))
    assert response.status_code == 400
    [event] = db.session.scalars(select(WebhookEvent)).all()
    assert event.status == "rejected" and event.rejection.startswith("unreadable")


def test_stored_but_unprocessed_notification_is_picked_up_by_the_sweeper(billing, live, open_invoice):
    from portal.queue import billing_queue

    body = form(pay_fields(open_invoice, 5550007))
    post(live, "pay", body, signed(body))
    billing_queue().empty()  # the job is lost (a Redis failover, a crash before the worker took it)
    clock.advance(timedelta(minutes=3))
    ticks.inbox_sweeper()
    billing.work()
    assert db.session.get(Subscription, open_invoice.subscription_id).status == "active"


def test_a_pay_that_never_arrives_is_healed_by_reconciliation(billing, live):
    make_plan(code="monthly", amount=29900)
    sub, invoice, params = billing.checkout(make_customer(), "monthly")
    billing.sandbox("POST", "/control", json={"urls": {"pay": ""}})  # the provider never sends Pay
    assert billing.pay(params)["Success"] is True
    billing.work()
    assert db.session.get(Subscription, sub.id).status == "pending"

    clock.advance(timedelta(minutes=16))
    ticks.reconciliation()
    billing.work()
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).status == "active"
    assert db.session.get(Invoice, invoice.id).status == "paid"
    [payment] = db.session.scalars(select(Payment)).all()
    assert payment.status == "completed"


def test_fail_notification_for_a_garbage_invoice_id_is_stored_not_a_500(billing, live, open_invoice):
    # The widget's invoiceId comes from the customer's browser: the provider reports whatever was typed.
    fields = pay_fields(open_invoice, 5550200, InvoiceId="x" * 300, Reason="Declined", ReasonCode="5051")
    for key in ("Status", "Token", "GatewayName"):
        fields.pop(key)
    body = form(fields)
    response = post(live, "fail", body, signed(body))
    assert (response.status_code, response.json()) == (200, {"code": 0})
    billing.work()
    [event] = db.session.scalars(select(WebhookEvent)).all()
    assert event.status == "processed" and event.body == body
    [payment] = db.session.scalars(select(Payment)).all()
    assert (payment.status, payment.invoice_id, payment.reason_code) == ("declined", None, 5051)
