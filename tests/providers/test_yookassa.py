"""The YooKassa adapter against the YooKassa sandbox over HTTP: the widget's payment and token, saved-method
charges with a stable Idempotence-Key, two-stage holds, refunds, declines in neutral categories, and
notifications that are trusted only from the published addresses and only as the API confirms them."""
import json

import pytest
import requests

from portal.providers import (
    DeclineCategory,
    EventKind,
    InvalidNotification,
    PaymentDeclined,
    ProviderError,
    Reception,
    RetryableProviderError,
    TokenCharge,
    TransactionStatus,
    WidgetRequest,
    YooKassaProvider,
    provider_from_config,
)
from tests.providers.support import next_invoice_id

SHOP_ID, SECRET = "100600", "test_provider-layer-secret"


@pytest.fixture(scope="module")
def yookassa_url(merchant):
    from portal.sandbox.yookassa import create_app
    from tests.sandbox.conftest import serve

    app = create_app({"YOOKASSA_SHOP_ID": SHOP_ID, "YOOKASSA_SECRET_KEY": SECRET,
                      "SANDBOX_MERCHANT_URL": merchant.url, "SANDBOX_NOTIFY_SCHEDULE": "0.2"})
    server = serve(app)
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    app.extensions["yookassa_sandbox"].shutdown()


@pytest.fixture
def provider(yookassa_url):
    requests.post(f"{yookassa_url}/_control/reset", timeout=5).raise_for_status()
    return YooKassaProvider(SHOP_ID, SECRET, api_url=f"{yookassa_url}/v3", widget_url=f"{yookassa_url}/widget.js",
                            timeout=(2, 10), trusted_networks=["127.0.0.0/8"])


def widget_payment(provider, invoice_id, scheme="charge", attempt=1):
    return provider.widget_params(WidgetRequest(
        invoice_id=invoice_id, amount_minor=29900, currency="RUB", account_id=f"user-{invoice_id}", email=None,
        description="Подписка на месяц", scheme=scheme, attempt=attempt))


def pay(provider, params, number="5555555555554444"):
    url = provider.api_url.removesuffix("/v3")
    answer = requests.post(f"{url}/widget/pay", timeout=10, json={
        "confirmation_token": params["confirmation_token"],
        "card": {"number": number, "expiry_month": "12", "expiry_year": "2030", "csc": "123"}})
    assert answer.status_code == 200, answer.text
    return answer.json()


def saved_method(provider, number="5555555555554444"):
    paid = pay(provider, widget_payment(provider, next_invoice_id()), number)
    assert paid["payment_method"]["saved"] is True
    return paid["payment_method"]["id"]


def charge(token, invoice_id, **overrides):
    return TokenCharge(**{"token": token, "amount_minor": 29900, "currency": "RUB", "account_id": f"user-{invoice_id}",
                          "invoice_id": invoice_id, "description": "Renewal", "email": None,
                          "request_id": f"invoice-{invoice_id}-attempt-1", "customer_present": False, **overrides})


def control_payments(provider):
    return requests.get(provider.api_url.removesuffix("/v3") + "/_control/payments", timeout=5).json()


def test_yookassa_is_built_from_its_settings_and_needs_its_secret():
    provider = provider_from_config({"PAYMENT_PROVIDER": "yookassa", "YOOKASSA_SHOP_ID": "1",
                                     "YOOKASSA_SECRET_KEY": "test_x"})
    assert (provider.name, provider.api_url) == ("yookassa", "https://api.yookassa.ru/v3")
    assert provider.widget_script_url == "https://yookassa.ru/checkout-widget/v1/checkout-widget.js"
    assert "test_x" not in repr(provider)
    with pytest.raises(ProviderError, match="YOOKASSA_SECRET_KEY"):
        provider_from_config({"PAYMENT_PROVIDER": "yookassa", "YOOKASSA_SHOP_ID": "1"})


def test_the_widget_gets_one_payment_per_attempt_and_its_confirmation_token(provider):
    invoice_id = next_invoice_id()
    first, again = widget_payment(provider, invoice_id), widget_payment(provider, invoice_id)
    assert first == again and first["confirmation_token"].startswith("ct-")
    assert widget_payment(provider, invoice_id, attempt=2)["payment_id"] != first["payment_id"]
    made = {p["id"]: p for p in control_payments(provider)}
    assert len(made) == 2 and made[first["payment_id"]]["metadata"]["invoice_id"] == str(invoice_id)


def test_a_card_check_is_held_in_two_stages_and_voided(provider):
    params = widget_payment(provider, next_invoice_id(), scheme="auth")
    assert pay(provider, params)["status"] == "waiting_for_capture"
    assert provider.get_transaction(params["payment_id"]).status == TransactionStatus.AUTHORIZED
    provider.void(params["payment_id"], request_id=f"cnl-{params['payment_id']}")
    provider.void(params["payment_id"], request_id=f"cnl-{params['payment_id']}")  # a repeat changes nothing
    assert provider.get_transaction(params["payment_id"]).status == TransactionStatus.CANCELLED


def test_a_saved_method_charge_asked_twice_with_one_key_charges_once(provider):
    token, invoice_id = saved_method(provider), next_invoice_id()
    first = provider.charge_token(charge(token, invoice_id))
    second = provider.charge_token(charge(token, invoice_id))
    assert first.transaction_id == second.transaction_id
    assert (first.status, first.amount_minor, first.invoice_id) == (TransactionStatus.COMPLETED, 29900, str(invoice_id))
    assert first.card is not None and first.card.token == token and first.card.last_four == "4444"
    charged = [p for p in control_payments(provider) if p["metadata"].get("invoice_id") == str(invoice_id)]
    assert len(charged) == 1


@pytest.mark.parametrize(("number", "category", "retry"), [
    ("5555555555550103", DeclineCategory.INSUFFICIENT_FUNDS, True),
    ("5555555555550111", DeclineCategory.EXPIRED_CARD, False),
    ("5555555555550129", DeclineCategory.NEVER_RETRY, False),
    ("5555555555550160", DeclineCategory.TRY_LATER, True),
])
def test_a_declined_charge_carries_its_neutral_category(provider, number, category, retry):
    token, invoice_id = saved_method(provider, number), next_invoice_id()
    with pytest.raises(PaymentDeclined) as declined:
        provider.charge_token(charge(token, invoice_id))
    assert (declined.value.decline.category, declined.value.retry_allowed) == (category, retry)
    assert declined.value.transaction.status == TransactionStatus.DECLINED


def test_a_provider_side_failure_is_retryable_with_the_same_key(provider):
    token, invoice_id = saved_method(provider), next_invoice_id()
    base = provider.api_url.removesuffix("/v3")
    requests.post(f"{base}/_control/faults", json={"operation": "payments.create", "fault": "500_after",
                                                    "count": 1}, timeout=5).raise_for_status()
    with pytest.raises(RetryableProviderError):
        provider.charge_token(charge(token, invoice_id))
    again = provider.charge_token(charge(token, invoice_id))  # the charge made before the 500, replayed
    assert again.status == TransactionStatus.COMPLETED
    assert len([p for p in control_payments(provider) if p["metadata"].get("invoice_id") == str(invoice_id)]) == 1


def test_a_partial_refund_goes_to_the_payment(provider):
    paid = pay(provider, widget_payment(provider, next_invoice_id()))
    result = provider.refund(paid["id"], 10000, request_id="refund-1")
    assert (result.amount_minor, len(result.refund_transaction_id)) == (10000, 36)
    assert provider.get_transaction(paid["id"]).raw["refunded_amount"]["value"] == "100.00"


def test_notifications_are_trusted_only_from_the_published_addresses(provider):
    published = YooKassaProvider(SHOP_ID, SECRET)
    assert published.verify_notification(b"{}", {}, "185.71.76.5") is True
    assert published.verify_notification(b"{}", {}, "2a02:5180:0:1::5") is True
    assert published.verify_notification(b"{}", {}, "127.0.0.1") is False
    assert published.verify_notification(b"{}", {}, "not an address") is False
    assert provider.verify_notification(b"{}", {}, "127.0.0.1") is True


def test_a_notification_is_applied_as_the_api_confirms_it_not_as_it_claims(provider):
    paid = pay(provider, widget_payment(provider, next_invoice_id()))
    claimed = {**paid, "amount": {"value": "1.00", "currency": "RUB"}, "status": "succeeded"}
    body = json.dumps({"type": "notification", "event": "payment.succeeded", "object": claimed}).encode()
    notification = provider.parse_notification(None, body, "application/json")
    assert notification.amount_minor == 100  # what the sender claims
    confirmed = provider.confirmed(notification)
    assert (confirmed.amount_minor, confirmed.event, confirmed.provider) == (29900, EventKind.PAYMENT_SUCCEEDED,
                                                                             "yookassa")
    assert confirmed.card is not None and confirmed.card.exp == "12/30"


def test_a_forged_notification_for_a_payment_the_provider_never_made_confirms_nothing(provider):
    forged = {"id": "2f3c8a1e-000f-5000-8000-1a2b3c4d5e6f", "status": "succeeded",
              "amount": {"value": "299.00", "currency": "RUB"}, "metadata": {"invoice_id": "1"}}
    body = json.dumps({"type": "notification", "event": "payment.succeeded", "object": forged}).encode()
    with pytest.raises(InvalidNotification, match="does not have"):
        provider.confirmed(provider.parse_notification(None, body, "application/json"))


@pytest.mark.parametrize("body", [
    b"not json", b'{"type": "other"}', b'{"type": "notification", "event": "deal.closed", "object": {"id": "x"}}',
    b'{"type": "notification", "event": "payment.succeeded"}'])
def test_what_is_not_a_notification_is_refused(provider, body):
    with pytest.raises(InvalidNotification):
        provider.parse_notification(None, body, "application/json")


def test_answers_are_200_once_stored_and_say_why_otherwise(provider):
    assert provider.answer(Reception(200)).status == 200
    refused = provider.answer(Reception(401, "sender not trusted"))
    assert (refused.status, refused.body) == (401, {"message": "sender not trusted"})
