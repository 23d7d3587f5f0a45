"""Every payment and refund carries its fiscal receipt to the provider's till and gets the till's answer
back, with both providers over real HTTP: a widget payment, a renewal, a proration, a partial and a full refund."""
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.billing import fiscal, plan_change, refunds
from portal.bus import schemas
from portal.extensions import db
from portal.machines import atomic
from portal.models import FiscalReceipt, Invoice, OutboxMessage, Payment, StaffAction, Subscription
from portal.queue import enqueue
from tests.factories import make_customer, make_plan
from tests.receipts.support import make_seller
from workers import ticks

PROVIDERS = ["cloudpayments", "yookassa"]
SANDBOX_FN = {"cloudpayments": "9999078900004792", "yookassa": "9999078900012345"}
VAT_22 = {"cloudpayments": ("vat", 22), "yookassa": ("vat_code", 11)}


def subscribed(billing, provider, plan_code="monthly", amount=29900):
    make_plan(code=plan_code, amount=amount)
    billing.use(provider)
    sub, invoice, params = billing.checkout(make_customer(email="viewer@example.com"), plan_code)
    assert billing.pay_with(provider, params) is True
    billing.work()
    billing.assert_no_failed_jobs()
    db.session.expire_all()
    sub = db.session.get(Subscription, sub.id)
    assert sub.status == "active"
    return sub, db.session.get(Invoice, invoice.id)


def receipt_of(invoice, kind="income"):
    db.session.expire_all()
    payment = db.session.scalars(select(Payment).where(Payment.invoice_id == invoice.id)).one()
    return db.session.scalars(select(FiscalReceipt).where(FiscalReceipt.payment_id == payment.id,
                                                          FiscalReceipt.kind == kind)).one()


def till_items(billing, provider, payment):
    """The positions the provider's till registered for a payment, from the sandbox's own books."""
    if provider == "yookassa":
        [registered] = billing.yookassa_api("/receipts", payment_id=payment.provider_transaction_id)["items"]
        return registered["items"]
    [registered] = [r for r in billing.sandbox("GET", "/control/receipts").json()["receipts"]
                    if str(r["TransactionId"]) == payment.provider_transaction_id]
    return registered["Receipt"]["Items"]


def sent_items(receipt):
    """The positions as they went on the provider's wire with the payment."""
    if receipt.provider == "yookassa":
        return receipt.sent["items"]
    return receipt.sent["CloudPayments"]["CustomerReceipt"]["Items"]


def position_name(item):
    return item.get("description") or item.get("label")


def assert_registered(receipt, provider, amount):
    assert (receipt.status, receipt.amount, receipt.provider) == ("registered", amount, provider)
    assert receipt.fiscal_storage_number == SANDBOX_FN[provider]
    assert receipt.fiscal_document_number.isdigit() and 1_000_000_000 <= int(receipt.fiscal_sign) <= 4_294_967_295
    assert f"&s={amount // 100}.{amount % 100:02d}&fn={receipt.fiscal_storage_number}" in receipt.qr


def events(routing_key):
    """The outbox rows of one routing key, each checked against the schema published for it."""
    rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.routing_key == routing_key)
                              .order_by(OutboxMessage.id)).all()
    for row in rows:
        envelope = json.loads(json.dumps(row.envelope))
        assert list(schemas.event_validator(routing_key).iter_errors(envelope)) == [], envelope
    return rows


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_widget_payment_carries_its_receipt_and_gets_its_fiscal_attributes(receipts_billing, provider):
    make_seller(taxation="usn_income", vat_default="none")
    sub, invoice = subscribed(receipts_billing, provider)

    receipt = receipt_of(invoice)
    assert_registered(receipt, provider, 29900)
    assert till_items(receipts_billing, provider, receipt.payment) == sent_items(receipt)
    assert [position_name(item) for item in sent_items(receipt)] == ["Подписка «Monthly», 1 месяц"]
    assert "viewer@example.com" in str(receipt.sent)
    [event] = events("receipt.registered")
    assert (event.payload["receipt_id"], event.payload["fiscal_sign"]) == (receipt.id, receipt.fiscal_sign)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_renewal_charge_carries_its_receipt(receipts_billing, provider):
    make_seller(taxation="osn", vat_default="general")
    sub, _ = subscribed(receipts_billing, provider)
    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    receipts_billing.work()
    receipts_billing.assert_no_failed_jobs()

    renewal = db.session.scalars(select(Invoice).where(Invoice.subscription_id == sub.id,
                                                       Invoice.kind == "renewal")).one()
    assert renewal.status == "paid"
    receipt = receipt_of(renewal)
    assert_registered(receipt, provider, 29900)
    field, rate = VAT_22[provider]
    assert sent_items(receipt)[0][field] == rate  # the renewal is in 2026: VAT 22 %


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_proration_charge_carries_its_receipt_for_the_prorated_amount(receipts_billing, provider):
    make_seller()
    sub, _ = subscribed(receipts_billing, provider)
    make_plan(code="premium", amount=49900)
    clock.freeze(sub.current_period_start + timedelta(days=10, hours=5))
    plan_change.request_plan_change(sub.id, "premium", None, actor="customer:test", cause="test")
    db.session.commit()
    receipts_billing.work()
    receipts_billing.assert_no_failed_jobs()

    proration = db.session.scalars(select(Invoice).where(Invoice.subscription_id == sub.id,
                                                         Invoice.kind == "proration")).one()
    assert proration.status == "paid" and 0 < proration.amount < 20000
    receipt = receipt_of(proration)
    assert_registered(receipt, provider, proration.amount)
    assert position_name(sent_items(receipt)[0]).startswith("Подписка «Premium»: доплата")


@pytest.mark.parametrize("provider,amount", [(p, a) for p in PROVIDERS for a in (14950, 29900)])
def test_a_refund_gets_a_return_receipt_for_the_refunded_amount(receipts_billing, provider, amount):
    """Half of the 299.00 back, or all of it: the return receipt is for what was refunded."""
    make_seller()
    sub, invoice = subscribed(receipts_billing, provider)
    payment = receipt_of(invoice).payment
    with atomic():
        refund = refunds.request_refund(payment, amount, reason="money back", requested_by="staff:test")
    enqueue("workers.payments.send_refund", refund.id, job_id=f"refund-{refund.id}")
    receipts_billing.work()
    receipts_billing.assert_no_failed_jobs()

    returned = receipt_of(invoice, kind="income_return")
    assert returned.refund_id == refund.id
    assert_registered(returned, provider, amount)
    assert "&n=2" in returned.qr
    assert receipt_of(invoice).status == "registered"


@pytest.mark.parametrize("provider", ["yookassa"])
def test_a_failed_registration_is_kept_with_its_reason_and_put_in_front_of_staff(receipts_billing, provider):
    make_seller()
    if provider == "yookassa":
        receipts_billing.yookassa("POST", "/_control", json={"fail_receipt_next": 1})
    sub, invoice = subscribed(receipts_billing, provider)

    receipt = receipt_of(invoice)
    assert receipt.status == "failed" and receipt.failure
    assert receipt in fiscal.overdue()
    assert [e.payload["receipt_id"] for e in events("receipt.failed")] == [receipt.id]


def test_a_receipt_cloudkassir_refuses_leaves_the_payment_and_is_overdue_for_staff(receipts_billing):
    make_seller()
    receipts_billing.sandbox("POST", "/control", json={"fail_receipt_next": 1})
    sub, invoice = subscribed(receipts_billing, "cloudpayments")

    receipt = receipt_of(invoice)
    assert (receipt.status, invoice.status) == ("pending", "paid")
    [refused] = receipts_billing.sandbox("GET", "/control/receipts").json()["refused"]
    assert str(refused["TransactionId"]) == receipt.payment.provider_transaction_id
    assert receipt not in fiscal.overdue()
    assert receipt in fiscal.overdue(clock.now() + fiscal.RECEIPT_DEADLINE + timedelta(seconds=1))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_without_seller_settings_payments_go_without_receipts(receipts_billing, provider):
    sub, invoice = subscribed(receipts_billing, provider)
    assert db.session.scalars(select(FiscalReceipt)).all() == []


def test_staff_ask_the_till_again_for_a_refused_receipt_and_it_registers(receipts_billing, app):
    from tests.admin.conftest import Browser, make_staff
    from tests.auth.helpers import sign_in

    make_seller()
    receipts_billing.yookassa("POST", "/_control", json={"fail_receipt_next": 1})
    sub, invoice = subscribed(receipts_billing, "yookassa")
    receipt = receipt_of(invoice)
    assert receipt.status == "failed"
    client = app.test_client()
    user = make_staff()
    assert sign_in(client, user.email).status_code == 303

    response = Browser(client, user).post(f"/admin/receipts/{receipt.id}/retry")
    assert response.status_code == 303
    receipts_billing.work()
    receipts_billing.assert_no_failed_jobs()

    again = receipt_of(invoice)
    assert_registered(again, "yookassa", 29900)
    assert [e.payload["receipt_id"] for e in events("receipt.registered")] == [receipt.id]
    [action] = db.session.scalars(select(StaffAction).where(StaffAction.action == "receipt.retry")).all()
    assert action.target_id == str(receipt.id)
    assert Browser(client, user).post(f"/admin/receipts/{receipt.id}/retry").status_code == 303  # nothing to redo
    assert len(db.session.scalars(select(StaffAction).where(StaffAction.action == "receipt.retry")).all()) == 1
