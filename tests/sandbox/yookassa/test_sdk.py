"""The official `yookassa` SDK, unchanged, against the sandbox: what works against the real service
works here (create, pay, save, charge, capture, cancel, refund, lists, errors, webhook parsing)."""

import json

import pytest
from yookassa import Configuration, Payment, Receipt, Refund, Settings
from yookassa.domain.exceptions import (
    BadRequestError,
    InternalServerError,
    NotFoundError,
    TooManyRequestsError,
    UnauthorizedError,
)
from yookassa.domain.notification import WebhookNotificationFactory

from .conftest import SECRET_KEY, SHOP_ID, webhooks


@pytest.fixture
def sdk(yookassa):
    """The SDK configured as the adapter configures it: shop id, secret key, the sandbox's base URL."""
    Configuration.configure(SHOP_ID, SECRET_KEY, api_url=yookassa.api_url)
    yield yookassa
    Configuration.configure(None, None)


def _pay(sdk, payment, number="5555555555554444"):
    return sdk.pay({"confirmation": {"confirmation_token": payment.confirmation.confirmation_token}}, number)


def _embedded(capture=True, save=True, value="299.00", key=None, **extra):
    return Payment.create({"amount": {"value": value, "currency": "RUB"}, "capture": capture,
                           "save_payment_method": save, "confirmation": {"type": "embedded", "locale": "ru_RU"},
                           "description": "Подписка «Стандарт», май", "metadata": {"invoice_id": "42"}, **extra},
                          key)


def test_sdk_creates_an_embedded_payment_with_a_token(sdk):
    payment = _embedded(key="inv-42-a1")

    assert payment.status == "pending" and payment.paid is False and len(payment.id) == 36
    assert payment.confirmation.type == "embedded"
    assert payment.confirmation.confirmation_token == "ct-" + payment.id
    assert payment.metadata == {"invoice_id": "42", "cms_name": "yookassa_sdk_python"}
    assert payment.amount.value == 299 and payment.amount.currency == "RUB"


def test_sdk_saves_the_card_and_charges_it_without_the_customer(sdk):
    first = _embedded(save=True)
    assert _pay(sdk, first).status_code == 200

    paid = Payment.find_one(first.id)
    assert paid.status == "succeeded" and paid.payment_method.saved is True
    assert paid.payment_method.card.last4 == "4444" and paid.payment_method.card.expiry_year == "2030"

    renewal = Payment.create({"amount": {"value": 299, "currency": "RUB"}, "capture": True,
                              "payment_method_id": paid.payment_method.id, "description": "Продление"},
                             "inv-43-a1")
    assert renewal.status == "succeeded" and renewal.paid is True
    assert renewal.payment_method.id == paid.payment_method.id


def test_sdk_sees_a_declined_renewal_with_its_reason(sdk):
    first = _embedded()
    _pay(sdk, first, "5555555555550111")

    renewal = Payment.create({"amount": {"value": "299.00", "currency": "RUB"}, "capture": True,
                              "payment_method_id": Payment.find_one(first.id).payment_method.id})

    assert renewal.status == "canceled"
    assert renewal.cancellation_details.reason == "card_expired"
    assert renewal.cancellation_details.party == "payment_network"


def test_sdk_captures_a_two_stage_payment(sdk):
    held = _embedded(capture=False, value="10.00")
    _pay(sdk, held)
    assert Payment.find_one(held.id).status == "waiting_for_capture"

    captured = Payment.capture(held.id, {"amount": {"value": "10.00", "currency": "RUB"}}, "cap-" + held.id)
    assert captured.status == "succeeded" and captured.captured_at
    replayed = Payment.capture(held.id, {"amount": {"value": "10.00", "currency": "RUB"}}, "cap-" + held.id)
    assert replayed.id == captured.id and replayed.status == "succeeded"


def test_sdk_cancels_a_two_stage_card_check(sdk):
    held = _embedded(capture=False, value="1.00")
    _pay(sdk, held)

    canceled = Payment.cancel(held.id, "cnl-" + held.id)

    assert canceled.status == "canceled"
    assert canceled.cancellation_details.reason == "canceled_by_merchant"
    assert Payment.cancel(held.id, "cnl-" + held.id).status == "canceled"  # the replay, not a 400


def test_sdk_refunds_part_then_the_rest(sdk):
    payment = _embedded(value="299.00")
    _pay(sdk, payment)

    refund = Refund.create({"payment_id": payment.id, "amount": {"value": "100.00", "currency": "RUB"},
                            "description": "Отмена подписки"}, "ref-1")
    assert refund.status == "succeeded" and refund.payment_id == payment.id
    assert Refund.find_one(refund.id).amount.value == 100
    Refund.create({"payment_id": payment.id, "amount": {"value": "199.00", "currency": "RUB"}}, "ref-2")

    after = Payment.find_one(payment.id)
    assert after.refunded_amount.value == 299 and after.refundable is False
    assert len(Refund.list({"payment_id": payment.id}).items) == 2


def test_sdk_lists_payments_with_cursor(sdk):
    ids = []
    for _ in range(3):
        payment = _embedded()
        _pay(sdk, payment)
        ids.append(payment.id)

    page = Payment.list({"limit": 2, "status": "succeeded"})
    rest = Payment.list({"limit": 2, "status": "succeeded", "cursor": page.next_cursor})

    assert [p.id for p in page.items] + [p.id for p in rest.items] == ids[::-1]
    assert rest.next_cursor is None


def test_sdk_sends_a_receipt_and_reads_its_registration(sdk):
    receipt = {"customer": {"email": "user@example.com"}, "tax_system_code": 2, "items": [
        {"description": "Подписка «Стандарт», 1 месяц", "quantity": 1, "vat_code": 1,
         "amount": {"value": "299.00", "currency": "RUB"}, "payment_mode": "full_prepayment",
         "payment_subject": "service"}]}
    payment = _embedded(receipt=receipt)
    _pay(sdk, payment)

    assert Payment.find_one(payment.id).receipt_registration == "succeeded"
    [registered] = Receipt.list({"payment_id": payment.id}).items
    assert registered.status == "succeeded" and registered.fiscal_document_number


def test_sdk_reads_the_account(sdk):
    assert Settings.get_account_settings().account_id == SHOP_ID


def test_sdk_raises_its_own_errors_for_the_sandbox_answers(sdk):
    with pytest.raises(NotFoundError):
        Payment.find_one("2f3c8a1e-000f-5000-8000-1a2b3c4d5e6f")
    _embedded(key="same-key")
    with pytest.raises(BadRequestError) as duplicated:
        _embedded(value="1.00", key="same-key")
    assert duplicated.value.args[0]["description"] == "Idempotence key duplicated"
    sdk.fault("payments.get", "429")
    with pytest.raises(TooManyRequestsError):
        Payment.find_one("2f3c8a1e-000f-5000-8000-1a2b3c4d5e6f")
    sdk.fault("payments.create", "500_before")
    with pytest.raises(InternalServerError):
        _embedded()
    Configuration.configure(SHOP_ID, "wrong", api_url=sdk.api_url)
    with pytest.raises(UnauthorizedError):
        Payment.find_one("2f3c8a1e-000f-5000-8000-1a2b3c4d5e6f")


def test_sdk_parses_the_sandbox_notifications(sdk, merchant):
    payment = _embedded()
    _pay(sdk, payment)
    refund = Refund.create({"payment_id": payment.id, "amount": {"value": "1.00", "currency": "RUB"}})

    hooks = webhooks(merchant, count=2)
    parsed = [WebhookNotificationFactory().create(json.loads(h["body"])) for h in hooks]

    assert [(n.event, n.object.id) for n in parsed] == [("payment.succeeded", payment.id),
                                                         ("refund.succeeded", refund.id)]
