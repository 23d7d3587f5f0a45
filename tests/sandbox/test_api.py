"""The provider API over real HTTP: auth, request formats, token charges, lookups, confirm/void/refund."""

import threading
import uuid
from datetime import UTC, datetime

import pytest
import requests

from portal.sandbox import cards

TRANSACTION_KEYS = {
    "ReasonCode", "PublicId", "TerminalUrl", "TransactionId", "Amount", "Currency", "CurrencyCode",
    "PaymentAmount", "PaymentCurrency", "PaymentCurrencyCode", "InvoiceId", "AccountId", "Email",
    "Description", "JsonData", "CreatedDate", "CreatedDateIso", "AuthDate", "AuthDateIso", "ConfirmDate",
    "ConfirmDateIso", "AuthCode", "TestMode", "Rrn", "OriginalTransactionId", "IpAddress", "IpCountry",
    "IpCity", "IpRegion", "IpDistrict", "IpLatitude", "IpLongitude", "CardFirstSix", "CardLastFour",
    "CardExpDate", "CardType", "CardTypeCode", "Issuer", "IssuerBankCountry", "Status", "StatusCode",
    "Reason", "CardHolderMessage", "Type", "Refunded", "Name", "Token", "SubscriptionId", "GatewayName",
    "TotalFee",
}

# (card, token charge succeeds) from the test-card table, for cards whose first payment succeeds.
TOKEN_OUTCOMES = [
    ("4242 4242 4242 4242", True), ("5555 5555 5555 4444", True), ("2200 0000 0000 0004", True),
    ("4000 0000 0000 3055", True), ("5205 0000 0000 3055", True), ("2202 0000 0000 3055", True),
    ("4111 1111 1111 1111", False), ("5200 8282 8282 8210", False), ("2200 0000 2222 2222", False),
]


def test_api_without_credentials_is_401(sandbox):
    assert sandbox.api("test", {}, auth=None).status_code == 401
    wrong = sandbox.api("test", {}, auth=(sandbox.public_id, "wrong"))
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")
    assert wrong.json()["Success"] is False


def test_test_endpoint_answers_a_request_id_in_message_as_the_real_api(sandbox):
    first, second = sandbox.call("test", {}), sandbox.call("test", {})

    assert first["Success"] is True and first["Model"] is None
    assert str(uuid.UUID(first["Message"])) == first["Message"]
    assert second["Message"] != first["Message"]


def test_api_is_post_only(sandbox):
    assert requests.get(f"{sandbox.url}/payments/get", timeout=5).status_code == 405


@pytest.mark.parametrize("card, succeeds", TOKEN_OUTCOMES)
def test_token_charge_follows_the_test_card_table(sandbox, card, succeeds, invoice_id):
    token = sandbox.saved_token(card)

    body = sandbox.charge(token, invoice_id=invoice_id)

    model = body["Model"]
    assert body["Success"] is succeeds
    assert body["Message"] is None
    assert model["InvoiceId"] == str(invoice_id)
    if succeeds:
        assert (model["Status"], model["StatusCode"], model["ReasonCode"]) == ("Completed", 3, 0)
        assert model["Token"] == token
    else:
        assert (model["Status"], model["StatusCode"], model["ReasonCode"]) == ("Declined", 5, 5051)
        assert model["Reason"] == "InsufficientFunds"
        assert model["CardHolderMessage"]


# The provider's published error-code table: payer text (CardHolderMessage) of every code the sandbox emulates.
CONTACT_BANK = "Свяжитесь с вашим банком или воспользуйтесь другой картой"
CHECK_CARD = "Проверьте правильность введенных данных карты или воспользуйтесь другой картой"
PAYER_TEXTS = {
    5001: CONTACT_BANK, 5005: CONTACT_BANK, 5014: CHECK_CARD, 5041: CONTACT_BANK, 5043: CONTACT_BANK,
    5051: "Недостаточно средств на карте", 5054: CHECK_CARD, 5057: CONTACT_BANK, 5082: "Неверно указан код CVV",
    5091: "Повторите попытку позже или воспользуйтесь другой картой", 5096: "Повторите попытку позже",
    5204: CONTACT_BANK, 5206: CONTACT_BANK,
}


def test_every_emulated_decline_code_carries_the_published_payer_text():
    emulated = {code for code in cards.REASONS if code >= 5000}

    assert emulated == set(PAYER_TEXTS)
    for code, text in PAYER_TEXTS.items():
        assert cards.reason_for(code)[1] == text, code


def test_declines_on_the_wire_carry_the_published_payer_text(sandbox, merchant, invoice_id):
    insufficient = sandbox.charge(sandbox.saved_token("4111111111111111"), invoice_id=invoice_id)["Model"]
    expired = sandbox.widget_pay("4242424242424242", expDate="01/20")
    merchant.check_code = 0
    sandbox.control(urls={"check": "http://127.0.0.1:9/unreachable"})
    unreachable = sandbox.widget_pay("4242424242424242")

    assert (insufficient["ReasonCode"], insufficient["CardHolderMessage"]) == (5051, PAYER_TEXTS[5051])
    assert (expired["ReasonCode"], expired["CardHolderMessage"]) == (5054, CHECK_CARD)
    assert (expired["Model"]["CardHolderMessage"]) == CHECK_CARD
    assert (unreachable["ReasonCode"], unreachable["CardHolderMessage"]) == (5204, CONTACT_BANK)


def test_transaction_model_has_every_key_and_both_date_styles(sandbox, invoice_id):
    token = sandbox.saved_token("4242424242424242")

    model = sandbox.charge(token, invoice_id=invoice_id, amount=299, Description="Renewal",
                           JsonData={"plan": "monthly"})["Model"]

    assert TRANSACTION_KEYS <= set(model)
    assert model["Amount"] == 299.0 and model["PaymentAmount"] == 299.0
    assert (model["Currency"], model["CurrencyCode"]) == ("RUB", 0)
    assert model["TestMode"] is True and model["GatewayName"] == "Test"
    assert model["CardFirstSix"] == "424242" and model["CardLastFour"] == "4242"
    assert model["CardExpDate"] == "12/30" and model["CardType"] == "Visa"
    assert model["PublicId"] == sandbox.public_id
    assert model["JsonData"] == '{"plan":"monthly"}'
    created_ms = int(model["CreatedDate"][len("/Date("):-len(")/")])
    created_iso = datetime.strptime(model["CreatedDateIso"], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    assert abs(created_ms / 1000 - created_iso.timestamp()) < 1
    assert model["AuthDateIso"] and model["ConfirmDateIso"]


def test_keys_are_matched_case_insensitively(sandbox, invoice_id):
    token = sandbox.saved_token("4242424242424242")
    body = sandbox.call("payments/tokens/charge", {
        "amount": 10.5, "currency": "rub", "accountid": "user-1", "TOKEN": token,
        "trInitiatorCode": 1, "invoiceID": str(invoice_id)})
    assert body["Success"] is True
    assert (body["Model"]["Amount"], body["Model"]["InvoiceId"]) == (10.5, str(invoice_id))


def test_form_bodies_work_like_json(sandbox, invoice_id):
    token = sandbox.saved_token("4242424242424242")
    body = sandbox.call("payments/tokens/charge", data={
        "Amount": "99.90", "Currency": "RUB", "AccountId": "user-1", "Token": token,
        "TrInitiatorCode": "0", "InvoiceId": str(invoice_id)})
    assert body["Success"] is True and body["Model"]["Amount"] == 99.9

    found = sandbox.call("payments/find", data={"InvoiceId": str(invoice_id)})
    assert found["Model"]["TransactionId"] == body["Model"]["TransactionId"]


@pytest.mark.parametrize("amount", [0, -5, "abc", 1.234, None])
def test_bad_amounts_are_refused_without_a_transaction(sandbox, amount, invoice_id):
    token = sandbox.saved_token("4242424242424242")
    body = sandbox.charge(token, invoice_id=invoice_id, amount=amount)
    assert body["Success"] is False and body["Message"] and body["Model"] is None
    assert sandbox.call("payments/find", {"InvoiceId": str(invoice_id)})["Message"] == "Not found"


def test_unknown_token_is_an_error_not_a_charge(sandbox, invoice_id):
    body = sandbox.charge("tk_no_such_token", invoice_id=invoice_id)
    assert body == {"Success": False, "Message": "Token not found", "Model": None}


def test_missing_required_fields_are_named(sandbox):
    body = sandbox.call("payments/tokens/charge", {"Amount": 1, "AccountId": "a", "Token": "t"})
    assert body["Success"] is False and "TrInitiatorCode" in body["Message"]


def test_same_token_for_the_same_card_and_account(sandbox):
    first = sandbox.saved_token("4242424242424242", "user-a")
    again = sandbox.saved_token("4242 4242 4242 4242", "user-a")
    other_account = sandbox.saved_token("4242424242424242", "user-b")
    assert first == again != other_account
    listed = sandbox.call("payments/tokens/list", {})["Model"]
    assert {row["Token"] for row in listed} == {first, other_account}
    row = next(r for r in listed if r["Token"] == first)
    assert row == {"Token": first, "AccountId": "user-a", "CardMask": "4242 42****** 4242",
                   "ExpirationDateMonth": 12, "ExpirationDateYear": 2030}


def test_same_request_id_replays_the_answer_and_charges_once(sandbox, invoice_id):
    token = sandbox.saved_token("4242424242424242")
    headers = {"X-Request-ID": f"invoice-{invoice_id}-attempt-1"}

    first = sandbox.charge(token, invoice_id=invoice_id, headers=headers)
    second = sandbox.charge(token, invoice_id=invoice_id, headers=headers)

    assert second == first
    assert sandbox.stats()["approved_charges_per_invoice"][str(invoice_id)] == 1
    assert sandbox.stats()["idempotent_replays"] == 1


def test_concurrent_repeats_of_one_request_id_charge_once(sandbox, invoice_id):
    token = sandbox.saved_token("4242424242424242")
    sandbox.control(latency_ms=100)
    headers = {"X-Request-ID": f"burst-{invoice_id}"}
    answers = []

    def charge():
        answers.append(sandbox.charge(token, invoice_id=invoice_id, headers=headers))

    threads = [threading.Thread(target=charge) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({a["Model"]["TransactionId"] for a in answers}) == 1
    assert sandbox.stats()["charges_per_invoice"][str(invoice_id)] == 1


def test_new_request_id_is_a_new_charge(sandbox, invoice_id):
    token = sandbox.saved_token("4242424242424242")
    first = sandbox.charge(token, invoice_id=invoice_id, headers={"X-Request-ID": "a-1"})
    second = sandbox.charge(token, invoice_id=invoice_id, headers={"X-Request-ID": "a-2"})
    assert first["Model"]["TransactionId"] != second["Model"]["TransactionId"]


def test_get_find_and_list(sandbox, new_invoice_id):
    token = sandbox.saved_token("4111111111111111")
    invoice_id = new_invoice_id()
    declined = sandbox.charge(token, invoice_id=invoice_id)["Model"]
    ok_token = sandbox.saved_token("4242424242424242")
    paid = sandbox.charge(ok_token, invoice_id=invoice_id)["Model"]

    got = sandbox.call("payments/get", {"TransactionId": declined["TransactionId"]})
    assert got["Success"] is True and got["Model"]["Status"] == "Declined"
    found = sandbox.call("payments/find", {"InvoiceId": str(invoice_id)})
    assert found["Model"]["TransactionId"] == paid["TransactionId"]  # the latest one
    assert sandbox.call("payments/get", {"TransactionId": 1}) == {
        "Success": False, "Message": "Not found", "Model": None}
    assert sandbox.call("payments/find", {"InvoiceId": "nope"})["Message"] == "Not found"

    today = datetime.now(UTC).strftime("%Y-%m-%d")
    listed = sandbox.call("payments/list", {"Date": today, "Timezone": "UTC"})["Model"]
    ids = {row["TransactionId"] for row in listed}
    assert {declined["TransactionId"], paid["TransactionId"]} <= ids
    assert sandbox.call("payments/list", {"Date": "2001-01-01"})["Model"] == []
    assert sandbox.call("payments/list", {"Date": today, "TimeZone": "Mars"})["Success"] is False


def test_auth_then_confirm_completes_and_notifies(sandbox, merchant, invoice_id):
    token = sandbox.saved_token("4242424242424242")
    held = sandbox.charge(token, invoice_id=invoice_id, endpoint="payments/tokens/auth")["Model"]
    assert (held["Status"], held["StatusCode"], held["ConfirmDate"]) == ("Authorized", 2, None)

    assert sandbox.call("payments/confirm", {"TransactionId": held["TransactionId"], "Amount": 250})["Success"]

    model = sandbox.call("payments/get", {"TransactionId": held["TransactionId"]})["Model"]
    assert (model["Status"], model["Amount"]) == ("Completed", 250.0)
    confirm = merchant.received("confirm", invoice_id=invoice_id)
    assert confirm and confirm[0]["fields"]["Amount"] == "250.00"
    assert confirm[0]["fields"]["Status"] == "Completed"
    again = sandbox.call("payments/confirm", {"TransactionId": held["TransactionId"], "Amount": 250})
    assert again["Success"] is False


def test_confirm_above_the_authorised_amount_is_refused(sandbox, invoice_id):
    token = sandbox.saved_token("4242424242424242")
    held = sandbox.charge(token, invoice_id=invoice_id, endpoint="payments/tokens/auth")["Model"]
    body = sandbox.call("payments/confirm", {"TransactionId": held["TransactionId"], "Amount": 300})
    assert body["Success"] is False


def test_void_cancels_an_authorisation_and_notifies(sandbox, merchant, invoice_id):
    token = sandbox.saved_token("4242424242424242")
    held = sandbox.charge(token, invoice_id=invoice_id, endpoint="payments/tokens/auth")["Model"]

    assert sandbox.call("payments/void", {"TransactionId": held["TransactionId"]}) == {
        "Success": True, "Message": None, "Model": None}

    model = sandbox.call("payments/get", {"TransactionId": held["TransactionId"]})["Model"]
    assert (model["Status"], model["StatusCode"]) == ("Cancelled", 4)
    cancel = merchant.received("cancel", invoice_id=invoice_id)
    assert cancel and cancel[0]["fields"]["TransactionId"] == str(held["TransactionId"])
    assert sandbox.call("payments/void", {"TransactionId": held["TransactionId"]})["Success"] is False


def test_void_of_a_completed_payment_is_refused(sandbox, invoice_id):
    paid = sandbox.charge(sandbox.saved_token("4242424242424242"), invoice_id=invoice_id)["Model"]
    assert sandbox.call("payments/void", {"TransactionId": paid["TransactionId"]})["Success"] is False


def test_partial_then_full_refund_then_over_refund(sandbox, merchant, invoice_id):
    paid = sandbox.charge(sandbox.saved_token("4242424242424242"), invoice_id=invoice_id, amount=299)["Model"]

    partial = sandbox.call("payments/refund", {"TransactionId": paid["TransactionId"], "Amount": 100})
    rest = sandbox.call("payments/refund", {"TransactionId": paid["TransactionId"], "Amount": 199})
    over = sandbox.call("payments/refund", {"TransactionId": paid["TransactionId"], "Amount": 0.01})

    assert partial["Success"] and rest["Success"]
    refund_ids = {partial["Model"]["TransactionId"], rest["Model"]["TransactionId"]}
    assert len(refund_ids) == 2 and paid["TransactionId"] not in refund_ids
    assert over["Success"] is False and "exceeds" in over["Message"]
    payment = sandbox.call("payments/get", {"TransactionId": paid["TransactionId"]})["Model"]
    assert payment["Refunded"] is True
    refund = sandbox.call("payments/get", {"TransactionId": partial["Model"]["TransactionId"]})["Model"]
    assert (refund["Type"], refund["Amount"], refund["OriginalTransactionId"]) == (1, 100.0, paid["TransactionId"])

    notes = merchant.received("refund", invoice_id=invoice_id, count=2)
    assert sorted(n["fields"]["Amount"] for n in notes) == ["100.00", "199.00"]
    assert {n["fields"]["PaymentTransactionId"] for n in notes} == {str(paid["TransactionId"])}
    assert {int(n["fields"]["TransactionId"]) for n in notes} == refund_ids
    assert {n["fields"]["OperationType"] for n in notes} == {"Refund"}


def test_refund_over_the_payment_amount_is_refused(sandbox, invoice_id):
    paid = sandbox.charge(sandbox.saved_token("4242424242424242"), invoice_id=invoice_id, amount=10)["Model"]
    body = sandbox.call("payments/refund", {"TransactionId": paid["TransactionId"], "Amount": 10.01})
    assert body["Success"] is False
    assert sandbox.call("payments/refund", {"TransactionId": 42, "Amount": 1})["Message"] == "Not found"


def test_refund_of_a_declined_payment_is_refused(sandbox, invoice_id):
    declined = sandbox.charge(sandbox.saved_token("4111111111111111"), invoice_id=invoice_id)["Model"]
    body = sandbox.call("payments/refund", {"TransactionId": declined["TransactionId"], "Amount": 1})
    assert body["Success"] is False


def test_token_charges_notify_pay_and_fail(sandbox, merchant, new_invoice_id):
    ok_invoice, failed_invoice = new_invoice_id(), new_invoice_id()
    sandbox.charge(sandbox.saved_token("4242424242424242"), invoice_id=ok_invoice)
    sandbox.charge(sandbox.saved_token("4111111111111111"), invoice_id=failed_invoice)

    pay = merchant.received("pay", invoice_id=ok_invoice)
    fail = merchant.received("fail", invoice_id=failed_invoice)
    assert pay and pay[0]["fields"]["Status"] == "Completed"
    assert fail and (fail[0]["fields"]["ReasonCode"], fail[0]["fields"]["Reason"]) == ("5051", "InsufficientFunds")
    # No Check for token charges unless switched on.
    assert merchant.received("check", invoice_id=ok_invoice, wait=0) == []
