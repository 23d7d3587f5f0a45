"""Notifications to the merchant: provider encoding, signatures, fields per type, retries, the log."""

import base64
import hashlib
import hmac
import re
import time
from urllib.parse import unquote_plus

import requests

CARD_OK = "4242424242424242"

FIELDS = {
    "check": ["TransactionId", "Amount", "Currency", "PaymentAmount", "PaymentCurrency", "DateTime",
              "CardFirstSix", "CardLastFour", "CardType", "CardExpDate", "TestMode", "Status", "OperationType"],
    "pay": ["TransactionId", "Amount", "Currency", "PaymentAmount", "PaymentCurrency", "DateTime",
            "CardFirstSix", "CardLastFour", "CardType", "CardExpDate", "TestMode", "Status", "OperationType",
            "GatewayName"],
    "fail": ["TransactionId", "Amount", "Currency", "PaymentAmount", "PaymentCurrency", "DateTime",
             "CardFirstSix", "CardLastFour", "CardType", "CardExpDate", "TestMode", "OperationType",
             "Reason", "ReasonCode"],
    "refund": ["TransactionId", "PaymentTransactionId", "Amount", "DateTime", "OperationType"],
}
OPTIONAL = ["InvoiceId", "AccountId", "Email", "Data", "SubscriptionId", "Name", "IpAddress", "Description"]


def expected_hmac(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def test_body_is_lowercase_hex_form_encoding_with_plus_for_spaces(sandbox, merchant, invoice_id):
    sandbox.widget_pay(CARD_OK, invoice_id=invoice_id, description="Подписка на месяц & ещё",
                       email="viewer+1@example.com")

    raw = merchant.received("pay", invoice_id=invoice_id)[0]["body"].decode("ascii")

    assert "Description=%d0%9f%d0%be%d0%b4" in raw  # "Под", lowercase hex
    assert "+%d0%bd%d0%b0+" in raw  # " на ": spaces are "+"
    assert "+%26+" in raw  # a literal "&" inside a value is escaped
    assert "Email=viewer%2b1%40example.com" in raw
    assert not re.search(r"%[0-9a-f]?[A-F]", raw), "an uppercase hex escape slipped through"
    assert "DateTime=" in raw and re.search(r"DateTime=\d{4}-\d\d-\d\d\+\d\d%3a\d\d%3a\d\d", raw)


def test_notifications_carry_both_hmacs(sandbox, merchant, invoice_id):
    sandbox.widget_pay(CARD_OK, invoice_id=invoice_id, description="Подписка на месяц")

    for kind in ("check", "pay"):
        request = merchant.received(kind, invoice_id=invoice_id)[0]
        raw = request["body"]
        assert request["headers"]["Content-HMAC"] == expected_hmac(sandbox.secret, raw)
        decoded = unquote_plus(raw.decode("ascii")).encode("utf-8")
        assert request["headers"]["X-Content-HMAC"] == expected_hmac(sandbox.secret, decoded)
        assert request["headers"]["Content-HMAC"] != expected_hmac("another-secret", raw)
        assert request["headers"]["Content-Type"].startswith("application/x-www-form-urlencoded")


def test_pay_and_check_fields(sandbox, merchant, invoice_id):
    outcome = sandbox.widget_pay(CARD_OK, invoice_id=invoice_id, amount=299)

    for kind in ("check", "pay"):
        fields = merchant.received(kind, invoice_id=invoice_id)[0]["fields"]
        assert set(FIELDS[kind] + OPTIONAL) <= set(fields), kind
        assert fields["Amount"] == fields["PaymentAmount"] == "299.00"
        assert (fields["TestMode"], fields["CardExpDate"], fields["CardLastFour"]) == ("1", "12/30", "4242")
        assert fields["Data"] == '{"plan":"monthly"}'
        assert fields["SubscriptionId"] == ""  # empty optionals travel as empty strings
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", fields["DateTime"])
    pay = merchant.received("pay", invoice_id=invoice_id)[0]["fields"]
    assert (pay["GatewayName"], pay["Token"], pay["Status"]) == ("Test", outcome["Token"], "Completed")


def test_fail_fields(sandbox, merchant, invoice_id):
    sandbox.widget_pay("4000056655665556", invoice_id=invoice_id)
    fields = merchant.received("fail", invoice_id=invoice_id)[0]["fields"]
    assert set(FIELDS["fail"] + OPTIONAL) <= set(fields)
    assert (fields["ReasonCode"], fields["Reason"]) == ("5051", "InsufficientFunds")
    assert "Status" not in fields


def test_failed_delivery_is_retried_until_the_merchant_accepts(sandbox, merchant, invoice_id):
    merchant.failures["pay"] = 2

    sandbox.widget_pay(CARD_OK, invoice_id=invoice_id)

    attempts = merchant.received("pay", invoice_id=invoice_id, count=3, wait=5)
    assert len(attempts) == 3
    assert len({a["body"] for a in attempts}) == 1  # the same bytes every time
    entry = next(e for e in sandbox.notifications(type="pay") if e["delivered"])
    assert (entry["attempts"], entry["last_status"], entry["next_attempt"]) == (3, 200, None)


def test_merchant_that_never_accepts_is_retried_on_the_schedule_then_given_up(sandbox, merchant, invoice_id):
    sandbox.control(notify_schedule=[0.1], notify_max_attempts=4)
    merchant.failures["pay"] = 100

    sandbox.widget_pay(CARD_OK, invoice_id=invoice_id)

    assert len(merchant.received("pay", invoice_id=invoice_id, count=4, wait=5)) == 4
    time.sleep(0.4)
    assert len(merchant.received("pay", invoice_id=invoice_id, wait=0)) == 4
    entry = sandbox.notifications(type="pay")[0]
    assert (entry["delivered"], entry["attempts"], entry["last_status"]) == (False, 4, 500)


def test_slow_merchant_counts_as_a_failed_attempt(sandbox, merchant, invoice_id):
    sandbox.control(notify_timeout=0.3, notify_schedule=[0.1])
    merchant.delays["pay"] = 0.6

    sandbox.widget_pay(CARD_OK, invoice_id=invoice_id)
    first = sandbox.notifications(type="pay")[0]
    assert first["last_status"] == "timeout" and first["delivered"] is False
    merchant.delays.clear()

    deadline = time.monotonic() + 5
    while not sandbox.notifications(type="pay")[0]["delivered"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox.notifications(type="pay")[0]["delivered"] is True


def test_redeliver_posts_the_same_notification_again(sandbox, merchant, invoice_id):
    sandbox.widget_pay(CARD_OK, invoice_id=invoice_id)
    entry = sandbox.notifications(type="pay")[0]
    assert entry["delivered"] is True

    response = requests.post(f"{sandbox.url}/notifications/{entry['id']}/redeliver", timeout=5)

    assert response.status_code == 200 and response.json()["attempts"] == 2
    bodies = [r["body"] for r in merchant.received("pay", invoice_id=invoice_id, count=2)]
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    assert requests.post(f"{sandbox.url}/notifications/999999/redeliver", timeout=5).status_code == 404


def test_delivery_log_lists_every_notification(sandbox, merchant, invoice_id):
    outcome = sandbox.widget_pay(CARD_OK, invoice_id=invoice_id)

    log = sandbox.notifications(transaction_id=outcome["TransactionId"])

    assert [e["type"] for e in log] == ["check", "pay"]
    for entry in log:
        assert {"id", "type", "url", "body", "attempts", "last_status", "delivered", "created"} <= set(entry)
        assert entry["url"] == f"{merchant.url}/webhooks/cloudpayments/{entry['type']}"


def test_drop_mode_loses_notifications_until_redelivered(sandbox, merchant, invoice_id):
    sandbox.control(notifications="drop")

    sandbox.widget_pay(CARD_OK, invoice_id=invoice_id)

    assert merchant.received("check", invoice_id=invoice_id)  # Check is never dropped
    assert merchant.received("pay", invoice_id=invoice_id, wait=0.5) == []
    entry = sandbox.notifications(type="pay")[0]
    assert (entry["last_status"], entry["attempts"]) == ("dropped", 0)
    requests.post(f"{sandbox.url}/notifications/{entry['id']}/redeliver", timeout=5)
    assert merchant.received("pay", invoice_id=invoice_id)


def test_duplicate_mode_delivers_twice(sandbox, merchant, invoice_id):
    sandbox.control(notifications="duplicate")
    sandbox.widget_pay(CARD_OK, invoice_id=invoice_id)
    pays = merchant.received("pay", invoice_id=invoice_id, count=2)
    assert len(pays) == 2 and pays[0]["body"] == pays[1]["body"]


def test_delay_mode_sends_after_the_widget_answers(sandbox, merchant, invoice_id):
    sandbox.control(notifications="delay", delay_ms=500)
    sandbox.widget_pay(CARD_OK, invoice_id=invoice_id)
    assert merchant.received("pay", invoice_id=invoice_id, wait=0) == []
    assert merchant.received("pay", invoice_id=invoice_id, wait=3)


def test_per_type_url_override(sandbox, merchant, invoice_id):
    sandbox.control(urls={"pay": f"{merchant.url}/custom/pay"})
    sandbox.widget_pay(CARD_OK, invoice_id=invoice_id)
    assert merchant.received("pay")[0]["path"] == "/custom/pay"


def test_cabinet_refund_needs_credentials_and_notifies(sandbox, merchant, invoice_id):
    paid = sandbox.widget_pay(CARD_OK, invoice_id=invoice_id, amount=299)
    url = f"{sandbox.url}/payments/{paid['TransactionId']}/refund"

    assert requests.post(url, data={"Amount": "99.00"}, timeout=5).status_code == 401
    partial = requests.post(url, data={"Amount": "99.00"}, auth=(sandbox.public_id, sandbox.secret), timeout=5)
    rest = requests.post(url, json={}, auth=(sandbox.public_id, sandbox.secret), timeout=5)

    assert partial.json()["Success"] and partial.json()["Model"]["Amount"] == 99.0
    assert rest.json()["Success"] and rest.json()["Model"]["Amount"] == 200.0  # no Amount: what is left
    notes = merchant.received("refund", invoice_id=invoice_id, count=2)
    assert set(FIELDS["refund"] + OPTIONAL) <= set(notes[0]["fields"])
    assert [n["fields"]["Amount"] for n in notes] == ["99.00", "200.00"]
    assert notes[0]["fields"]["PaymentTransactionId"] == str(paid["TransactionId"])
    again = requests.post(url, json={"Amount": 1}, auth=(sandbox.public_id, sandbox.secret), timeout=5)
    assert again.json()["Success"] is False


def test_recurrent_notification_can_be_emitted(sandbox, merchant):
    response = requests.post(f"{sandbox.url}/notifications/recurrent",
                             json={"Id": "sc_1", "AccountId": "user-1", "Amount": "299.00", "Status": "Cancelled"},
                             timeout=5)

    assert response.status_code == 200 and response.json()["delivered"] is True
    request = merchant.received("recurrent")[0]
    assert request["fields"]["Id"] == "sc_1" and request["fields"]["Status"] == "Cancelled"
    assert request["headers"]["Content-HMAC"] == expected_hmac(sandbox.secret, request["body"])
