"""The interface's own rules: request ids, widget parameters, decline classification."""
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from portal.providers import (
    CloudPaymentsProvider,
    PaymentDeclined,
    ProviderError,
    Transaction,
    WidgetRequest,
    reason_codes,
    request_id,
)


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("invoice", 42, "attempt", 3), "invoice-42-attempt-3"),
        (("refund", 7), "refund-7"),
        (("void", "1000123"), "void-1000123"),
    ],
)
def test_request_id_is_stable_and_built_from_our_ids(parts, expected):
    assert request_id(*parts) == expected
    assert request_id(*parts) == request_id(*parts)


@pytest.mark.parametrize("parts", [(), ("invoice", None), ("invoice", "")])
def test_request_id_refuses_missing_parts(parts):
    with pytest.raises(ValueError):
        request_id(*parts)


@pytest.fixture
def provider():
    return CloudPaymentsProvider("pk_test", "secret", api_url="http://127.0.0.1:9", widget_url="https://w/cp.js")


def widget_request(**overrides):
    fields = {
        "invoice_id": 42,
        "amount_minor": 29900,
        "currency": "RUB",
        "account_id": "user-7",
        "email": "viewer@example.com",
        "description": "Подписка на месяц",
        "data": {"subscription_id": 7},
    }
    return WidgetRequest(**{**fields, **overrides})


def test_widget_params_are_what_the_widget_takes(provider):
    assert provider.widget_params(widget_request()) == {
        "publicId": "pk_test",
        "description": "Подписка на месяц",
        "amount": 299.0,
        "currency": "RUB",
        "accountId": "user-7",
        "invoiceId": "42",
        "email": "viewer@example.com",
        "data": {"subscription_id": 7},
        "skin": "classic",
    }
    assert provider.widget_script_url == "https://w/cp.js"


@pytest.mark.parametrize(("minor", "major"), [(29900, 299.0), (10, 0.1), (29999, 299.99), (1, 0.01)])
def test_widget_amount_is_major_units(provider, minor, major):
    assert provider.widget_params(widget_request(amount_minor=minor))["amount"] == major


def test_widget_params_leave_out_an_unknown_email(provider):
    assert "email" not in provider.widget_params(widget_request(email=None))


def declined(reason_code):
    return Transaction(
        transaction_id="1",
        status="declined",
        amount_minor=29900,
        currency="RUB",
        invoice_id="42",
        account_id="user-7",
        email=None,
        token=None,
        card_first_six="411111",
        card_last_four="1111",
        card_type="Visa",
        card_exp="12/30",
        reason_code=reason_code,
        reason="Declined",
        card_holder_message="Операция отклонена",
        test_mode=True,
        created_at=datetime(2025, 1, 15, tzinfo=timezone.utc),
        raw={},
    )


@pytest.mark.parametrize(
    ("code", "retry_allowed", "customer_message"),
    [
        (5051, True, "Insufficient funds"),
        (5054, True, "Card expired"),
        (5096, True, "Payment system error. Please try again later"),
        (5001, False, None),
        (5005, False, "Payment declined by your bank"),
        (5057, False, "This card cannot be used for this payment"),
        (5033, False, None),
        (None, True, None),
    ],
)
def test_payment_declined_classifies_the_reason_code(code, retry_allowed, customer_message):
    error = PaymentDeclined(replace(declined(code), decline=reason_codes.decline(code, "Declined")))
    assert isinstance(error, ProviderError)
    assert error.reason_code == code
    assert error.retry_allowed is retry_allowed
    assert error.customer_message == (customer_message or "Payment declined. Please try again or use another card")
    assert error.transaction.transaction_id == "1"
    assert error.message
