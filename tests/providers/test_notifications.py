"""Parsing provider notifications: form and JSON bodies into Notification, and refusing what is not one."""
import json
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest

from portal.providers import CloudPaymentsProvider, InvalidNotification

FORM = "application/x-www-form-urlencoded; charset=utf-8"

PAY_FORM = (
    b"TransactionId=1000123&Amount=299.00&Currency=RUB&PaymentAmount=299.00&PaymentCurrency=RUB"
    b"&DateTime=2025-01-15+10%3a30%3a00&CardFirstSix=400000&CardLastFour=3055&CardType=Visa"
    b"&CardExpDate=12%2f30&TestMode=1&Status=Completed&OperationType=Payment&GatewayName=Test"
    b"&InvoiceId=42&AccountId=user-7&Email=&SubscriptionId=&Name=%d0%98%d0%b2%d0%b0%d0%bd"
    b"&Description=%d0%bf%d0%be%d0%b4%d0%bf%d0%b8%d1%81%d0%ba%d0%b0+%d0%bd%d0%b0+%d0%bc%d0%b5%d1%81%d1%8f%d1%86"
    b"&Data=%7b%22plan%22%3a%22monthly%22%2c%22subscription_id%22%3a7%7d&Token=tk_abc123"
)


@pytest.fixture
def provider():
    return CloudPaymentsProvider("pk_test", "secret", api_url="http://127.0.0.1:9")


def form(**fields) -> bytes:
    defaults = {"TransactionId": "1", "Amount": "1.00", "DateTime": "2025-01-15 10:30:00"}
    return urlencode({**defaults, **fields}).encode("ascii")


def test_pay_form_notification_is_read_into_billing_types(provider):
    notification = provider.parse_notification("pay", PAY_FORM, FORM)

    assert notification.kind == "pay"
    assert notification.transaction_id == "1000123"
    assert notification.amount_minor == 29900
    assert notification.currency == "RUB"
    assert notification.invoice_id == "42"
    assert notification.account_id == "user-7"
    assert notification.email is None
    assert notification.status == "completed"
    assert notification.operation_type == "payment"
    assert notification.token == "tk_abc123"
    assert (notification.card_first_six, notification.card_last_four) == ("400000", "3055")
    assert (notification.card_type, notification.card_exp) == ("Visa", "12/30")
    assert notification.occurred_at == datetime(2025, 1, 15, 10, 30, tzinfo=timezone.utc)
    assert notification.test_mode is True
    assert notification.data == {"plan": "monthly", "subscription_id": 7}
    assert notification.raw["Description"] == "подписка на месяц"
    assert notification.raw["Email"] == ""
    assert all(isinstance(value, str) for value in notification.raw.values())


@pytest.mark.parametrize(
    ("amount", "minor"),
    [("299.00", 29900), ("0.10", 10), ("0.01", 1), ("299", 29900), ("1.5", 150), ("21474836.47", 2**31 - 1)],
)
def test_amounts_become_exact_minor_units(provider, amount, minor):
    assert provider.parse_notification("pay", form(Amount=amount), FORM).amount_minor == minor


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-01-15 10:30:00", datetime(2025, 1, 15, 10, 30, tzinfo=timezone.utc)),
        ("2025-01-15T10:30:00", datetime(2025, 1, 15, 10, 30, tzinfo=timezone.utc)),
        ("2025-01-15T13:30:00+03:00", datetime(2025, 1, 15, 10, 30, tzinfo=timezone.utc)),
        ("", None),
    ],
)
def test_date_time_becomes_aware_utc(provider, value, expected):
    occurred_at = provider.parse_notification("pay", form(DateTime=value), FORM).occurred_at
    assert occurred_at == expected
    if expected is not None:
        assert occurred_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("0", False), ("", False)])
def test_test_mode_flag_becomes_bool(provider, value, expected):
    assert provider.parse_notification("pay", form(TestMode=value), FORM).test_mode is expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [('{"plan":"monthly"}', {"plan": "monthly"}), ("", {}), ("not json", {}), ("[1, 2]", {})],
)
def test_data_json_becomes_a_dict(provider, data, expected):
    notification = provider.parse_notification("pay", form(Data=data), FORM)
    assert notification.data == expected
    assert notification.raw["Data"] == data


@pytest.mark.parametrize("field", ["InvoiceId", "AccountId", "Email", "Token", "Reason", "ReasonCode", "Status"])
def test_empty_optional_fields_become_none(provider, field):
    notification = provider.parse_notification("fail", form(**{field: ""}), FORM)
    attribute = {"InvoiceId": "invoice_id", "AccountId": "account_id", "ReasonCode": "reason_code"}.get(
        field, field.lower()
    )
    assert getattr(notification, attribute) is None


def test_fail_notification_carries_the_reason(provider):
    body = form(Reason="InsufficientFunds", ReasonCode="5051", OperationType="Payment", InvoiceId="42")
    notification = provider.parse_notification("fail", body, FORM)
    assert (notification.reason, notification.reason_code) == ("InsufficientFunds", 5051)
    assert notification.status is None


def test_refund_notification_names_the_refunded_payment(provider):
    body = form(TransactionId="2000", PaymentTransactionId="1000123", Amount="100.00", OperationType="Refund")
    notification = provider.parse_notification("refund", body, FORM)
    assert (notification.transaction_id, notification.payment_transaction_id) == ("2000", "1000123")
    assert notification.amount_minor == 10000


def test_recurrent_notification_has_no_transaction(provider):
    body = b"Id=sc_1&AccountId=user-7&Amount=299.00&Currency=RUB&Status=Active&Interval=Month&Period=1"
    notification = provider.parse_notification("recurrent", body, FORM)
    assert notification.transaction_id is None
    assert notification.raw["Id"] == "sc_1"
    assert (notification.status, notification.amount_minor) == ("active", 29900)


def test_get_notification_query_string_parses_like_a_form(provider):
    # For GET notifications the webhook passes the raw query string and no content type.
    assert provider.parse_notification("pay", PAY_FORM, None) == provider.parse_notification("pay", PAY_FORM, FORM)


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "text/json"])
def test_json_body_is_read_when_the_content_type_says_json(provider, content_type):
    body = json.dumps(
        {
            "TransactionId": 1000123,
            "Amount": 299.00,
            "Currency": "RUB",
            "DateTime": "2025-01-15 10:30:00",
            "TestMode": True,
            "InvoiceId": "42",
            "Email": None,
            "Status": "Completed",
            "Data": {"plan": "monthly"},
            "CardExpDate": "12/30",
        },
        ensure_ascii=False,
    ).encode("utf-8")
    notification = provider.parse_notification("pay", body, content_type)
    assert notification.transaction_id == "1000123"
    assert notification.amount_minor == 29900
    assert notification.test_mode is True
    assert notification.email is None
    assert notification.data == {"plan": "monthly"}
    assert notification.occurred_at == datetime(2025, 1, 15, 10, 30, tzinfo=timezone.utc)
    assert notification.raw["TestMode"] == "1"
    assert all(isinstance(value, str) for value in notification.raw.values())


def test_json_amount_as_text_and_data_as_json_text(provider):
    body = json.dumps({"TransactionId": "5", "Amount": "0.10", "Data": '{"a": 1}', "TestMode": 0}).encode()
    notification = provider.parse_notification("pay", body, "application/json")
    assert (notification.amount_minor, notification.data, notification.test_mode) == (10, {"a": 1}, False)


@pytest.mark.parametrize(
    ("kind", "body", "content_type"),
    [
        ("pay", b"", FORM),
        ("pay", b"   ", FORM),
        ("pay", b"this is not a notification", FORM),
        ("pay", b"\xff\xfe\x00garbage", FORM),
        ("pay", b"<html><body>502 Bad Gateway</body></html>", "text/html"),
        ("pay", b'{"TransactionId": 1, "Amount": ', "application/json"),
        ("pay", b"[1, 2, 3]", "application/json"),
        ("pay", b"Amount=1.00&DateTime=2025-01-15+10%3a30%3a00", FORM),  # no TransactionId
        ("pay", b"TransactionId=1", FORM),  # no Amount
        ("pay", b"TransactionId=1&Amount=abc", FORM),
        ("pay", b"TransactionId=1&Amount=0.001", FORM),
        ("pay", b"TransactionId=1&Amount=21474836.48", FORM),
        ("pay", b"TransactionId=1&Amount=-1.00", FORM),
        ("pay", b"TransactionId=1&Amount=1.00&DateTime=yesterday", FORM),
        ("fail", b"TransactionId=1&Amount=1.00&ReasonCode=none", FORM),
        ("payout", b"TransactionId=1&Amount=1.00", FORM),
    ],
    ids=[
        "empty",
        "blank",
        "prose",
        "not-utf8",
        "html",
        "broken-json",
        "json-array",
        "no-transaction-id",
        "no-amount",
        "amount-not-a-number",
        "sub-kopeck-amount",
        "amount-over-the-column",
        "negative-amount",
        "bad-date",
        "bad-reason-code",
        "unknown-kind",
    ],
)
def test_garbage_is_an_invalid_notification(provider, kind, body, content_type):
    with pytest.raises(InvalidNotification):
        provider.parse_notification(kind, body, content_type)
