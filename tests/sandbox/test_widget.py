"""The widget: widget.js as served (also under a mount prefix) and POST widget/pay with Check first."""

import pytest
import requests

# (card, first payment succeeds) for every card of the test-card table.
FIRST_PAYMENTS = [
    ("4242 4242 4242 4242", True), ("5555 5555 5555 4444", True), ("2200 0000 0000 0004", True),
    ("4012 8888 8888 1881", False), ("5105 1051 0510 5100", False), ("2202 2022 0220 2200", False),
    ("4000 0000 0000 3055", True), ("5205 0000 0000 3055", True), ("2202 0000 0000 3055", True),
    ("4111 1111 1111 1111", True), ("5200 8282 8282 8210", True), ("2200 0000 2222 2222", True),
    ("4000 0566 5566 5556", False), ("5404 0000 0000 0043", False), ("2203 0000 0000 0043", False),
]


def test_widget_js_is_served_as_javascript_with_its_base_url(sandbox):
    response = requests.get(f"{sandbox.url}/widget.js", timeout=5)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    source = response.text
    assert "cp.CloudPayments" in source
    assert f'"{sandbox.url}/"' in source
    assert "eval(" not in source and "innerHTML" not in source and "onclick" not in source


def test_widget_and_api_work_under_a_mount_prefix(mounted_sandbox):
    # Mounted the way the portal mounts it: the prefix must come from the request, not be baked in.
    base = f"{mounted_sandbox.url}/sandbox/cloudpayments"

    script = requests.get(f"{base}/widget.js", timeout=5)
    assert script.status_code == 200
    assert f'"{base}/"' in script.text
    answer = requests.post(f"{base}/test", auth=(mounted_sandbox.public_id, mounted_sandbox.secret), timeout=5)
    assert answer.json()["Success"] is True
    assert requests.get(f"{base}/control", timeout=5).json()["public_id"] == mounted_sandbox.public_id


@pytest.mark.parametrize("card, succeeds", FIRST_PAYMENTS)
def test_first_payment_follows_the_test_card_table(sandbox, card, succeeds, invoice_id):
    outcome = sandbox.widget_pay(card, invoice_id=invoice_id)

    assert outcome["Success"] is succeeds
    assert outcome["TransactionId"]
    if succeeds:
        assert (outcome["Status"], outcome["ReasonCode"]) == ("Completed", 0)
        assert outcome["Token"].startswith("tk_")
    else:
        assert (outcome["Status"], outcome["ReasonCode"], outcome["Token"]) == ("Declined", 5051, None)
        assert outcome["CardHolderMessage"]


def test_check_goes_first_and_pay_follows_before_the_answer(sandbox, merchant, invoice_id):
    outcome = sandbox.widget_pay("4242424242424242", invoice_id=invoice_id, amount=299)

    kinds = [r["kind"] for r in merchant.requests]
    assert kinds[:2] == ["check", "pay"]  # Pay's first attempt is made before widget/pay answers
    check, pay = merchant.received("check")[0]["fields"], merchant.received("pay")[0]["fields"]
    assert check["TransactionId"] == pay["TransactionId"] == str(outcome["TransactionId"])
    assert (check["Amount"], check["Status"], check["InvoiceId"]) == ("299.00", "Completed", str(invoice_id))
    assert pay["Token"] == outcome["Token"]


@pytest.mark.parametrize("code", [10, 11, 12, 13, 20])
def test_check_refusal_declines_with_the_merchants_code(sandbox, merchant, code, invoice_id):
    merchant.check_code = code

    outcome = sandbox.widget_pay("4242424242424242", invoice_id=invoice_id)

    assert outcome["Success"] is False
    assert (outcome["Status"], outcome["ReasonCode"], outcome["Token"]) == ("Declined", code, None)
    fail = merchant.received("fail", invoice_id=invoice_id)
    assert fail and fail[0]["fields"]["ReasonCode"] == str(code)
    assert merchant.received("pay", invoice_id=invoice_id, wait=0) == []


def test_unreachable_check_declines(sandbox, merchant, invoice_id):
    sandbox.control(urls={"check": "http://127.0.0.1:9/nothing-listens-here"})

    outcome = sandbox.widget_pay("4242424242424242", invoice_id=invoice_id)

    assert outcome["Success"] is False and outcome["ReasonCode"] == 5204
    assert merchant.received("fail", invoice_id=invoice_id)


def test_check_that_answers_500_declines(sandbox, merchant, invoice_id):
    merchant.failures["check"] = 1
    assert sandbox.widget_pay("4242424242424242", invoice_id=invoice_id)["Success"] is False


def test_switched_off_check_is_not_sent(sandbox, merchant, invoice_id):
    sandbox.control(urls={"check": ""})
    assert sandbox.widget_pay("4242424242424242", invoice_id=invoice_id)["Success"] is True
    assert merchant.received("check", wait=0) == []


def test_auth_widget_payment_is_authorised_not_completed(sandbox, merchant, invoice_id):
    outcome = sandbox.widget_pay("4242424242424242", invoice_id=invoice_id, kind="auth")
    assert (outcome["Success"], outcome["Status"]) == (True, "Authorized")
    assert merchant.received("check")[0]["fields"]["Status"] == "Authorized"
    assert merchant.received("pay")[0]["fields"]["Status"] == "Authorized"


def test_newer_start_api_parameters_are_accepted(sandbox, invoice_id):
    body = {"publicTerminalId": sandbox.public_id, "amount": 50, "currency": "RUB", "paymentSchema": "Dual",
            "externalId": str(invoice_id), "userInfo": {"accountId": "acc-9", "email": "a@b.c"},
            "metadata": {"k": "v"}, "cardNumber": "4242424242424242", "expDate": "01/31", "cvv": "000"}
    outcome = requests.post(f"{sandbox.url}/widget/pay", json=body, timeout=10).json()
    assert (outcome["Success"], outcome["Status"]) == (True, "Authorized")
    assert (outcome["InvoiceId"], outcome["AccountId"]) == (str(invoice_id), "acc-9")


@pytest.mark.parametrize("changes, code", [
    ({"cardNumber": "4242424242424241"}, 5014),
    ({"expDate": "13/30"}, 5054),
    ({"cvv": "12"}, 5082),
    ({"publicId": "pk_wrong"}, None),
    ({"amount": 0}, None),
])
def test_bad_widget_input_is_refused_without_a_transaction(sandbox, merchant, changes, code):
    response = requests.post(f"{sandbox.url}/widget/pay", json={
        "publicId": sandbox.public_id, "amount": 10, "currency": "RUB", "invoiceId": "x",
        "cardNumber": "4242424242424242", "expDate": "12/30", "cvv": "123", **changes}, timeout=10)
    assert response.status_code == 400
    body = response.json()
    assert (body["Success"], body["TransactionId"], body["ReasonCode"]) == (False, None, code)
    assert merchant.requests == []


def test_expired_card_is_declined_after_check(sandbox, merchant, invoice_id):
    outcome = sandbox.widget_pay("4242424242424242", invoice_id=invoice_id, expDate="01/20")
    assert (outcome["Success"], outcome["ReasonCode"]) == (False, 5054)
    assert merchant.received("check") and merchant.received("fail")


def test_widget_pay_answers_cors_preflight(sandbox):
    response = requests.options(f"{sandbox.url}/widget/pay", headers={
        "Origin": "http://portal.test", "Access-Control-Request-Method": "POST"}, timeout=5)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "http://portal.test"
    assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]
