"""YooKassa API v3 over real HTTP: auth, payments, the widget's pay endpoint, saved methods, two stages,
refunds, lists, Idempotence-Key and the error bodies."""

import re
import time

import pytest
import requests

from .conftest import SHOP_ID, card

ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_api_without_the_shop_credentials_is_401_with_an_error_body(yookassa):
    for auth in (None, (SHOP_ID, "wrong"), ("other-shop", "test_sandbox-tests-secret")):
        answer = yookassa.api("GET", "/me", auth=auth)
        assert answer.status_code == 401
        assert answer.json()["type"] == "error" and answer.json()["code"] == "invalid_credentials"


def test_credentials_can_be_changed_at_run_time_and_the_secret_is_never_shown(yookassa):
    settings = yookassa.control("", {"shop_id": "200600", "secret_key": "test_rotated"})

    assert settings["shop_id"] == "200600" and "test_rotated" not in str(settings)
    assert yookassa.api("GET", "/me").status_code == 401
    assert yookassa.call("GET", "/me", auth=("200600", "test_rotated"))["account_id"] == "200600"


def test_me_names_the_shop(yookassa):
    assert yookassa.call("GET", "/me")["account_id"] == SHOP_ID


def test_embedded_payment_starts_pending_with_a_confirmation_token(yookassa):
    payment = yookassa.create_payment("299.00")

    assert ID.match(payment["id"]) and len(payment["id"]) == 36
    assert payment["status"] == "pending" and payment["paid"] is False
    assert payment["amount"] == {"value": "299.00", "currency": "RUB"}
    assert payment["confirmation"] == {"type": "embedded", "confirmation_token": "ct-" + payment["id"]}
    assert TIME.match(payment["created_at"])
    assert payment["test"] is True and payment["recipient"]["account_id"] == SHOP_ID
    for absent in ("cancellation_details", "refunded_amount", "authorization_details", "captured_at"):
        assert absent not in payment
    assert yookassa.call("GET", f"/payments/{payment['id']}") == payment


def test_the_widget_reads_its_session_and_pays_from_the_portals_origin(yookassa):
    """The standalone sandbox runs on its own port: the portal's page calls it across origins."""
    payment = yookassa.create_payment("299.00")
    origin = {"Origin": "http://portal.test"}
    session = requests.get(f"{yookassa.url}/widget/session", timeout=5, headers=origin,
                           params={"confirmation_token": payment["confirmation"]["confirmation_token"]})
    assert session.status_code == 200 and session.json()["state"] == "active"
    assert session.headers["Access-Control-Allow-Origin"] == "http://portal.test"
    preflight = requests.options(f"{yookassa.url}/widget/pay", timeout=5,
                                 headers={**origin, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://portal.test"
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]


def test_the_widget_speaks_the_confirmation_locale_russian_when_none_is_given(yookassa):
    """The real widget takes its language from the payment's confirmation.locale; YooKassa's default is ru_RU."""
    english = yookassa.create_payment(locale="en_US")
    russian = yookassa.create_payment(locale="ru_RU")
    unsaid = yookassa.call("POST", "/payments", {"amount": {"value": "1.00", "currency": "RUB"},
                                                 "confirmation": {"type": "embedded"}})

    assert [yookassa.session(p)["locale"] for p in (english, russian, unsaid)] == ["en_US", "ru_RU", "ru_RU"]
    # As the provider answers it: the embedded confirmation carries its token, the locale stays with the widget.
    assert english["confirmation"] == {"type": "embedded", "confirmation_token": "ct-" + english["id"]}


def test_amount_given_as_a_number_is_answered_as_a_string_with_two_decimals(yookassa):
    payment = yookassa.call("POST", "/payments", {"amount": {"value": 299, "currency": "RUB"},
                                                  "confirmation": {"type": "embedded"}})
    assert payment["amount"]["value"] == "299.00"


def test_paying_with_the_widget_succeeds_and_saves_the_card(yookassa):
    payment = yookassa.create_payment(save=True, capture=True)

    paid = yookassa.pay(payment).json()

    assert paid["status"] == "succeeded" and paid["paid"] is True and TIME.match(paid["captured_at"])
    method = paid["payment_method"]
    assert method["type"] == "bank_card" and method["saved"] is True and ID.match(method["id"])
    assert method["card"] == {"first6": "555555", "last4": "4444", "expiry_month": "12", "expiry_year": "2030",
                              "card_type": "MasterCard", "issuer_country": "RU", "issuer_name": "Sandbox Bank"}
    assert paid["refundable"] is True and paid["refunded_amount"] == {"value": "0.00", "currency": "RUB"}
    assert "confirmation" not in paid
    assert yookassa.call("GET", f"/payments/{payment['id']}") == paid


def test_without_save_payment_method_nothing_is_saved_and_the_method_cannot_be_charged(yookassa):
    paid = yookassa.paid_payment(save=False)
    assert paid["payment_method"]["saved"] is False

    answer = yookassa.api("POST", "/payments", {"amount": {"value": "1.00", "currency": "RUB"},
                                                "payment_method_id": paid["payment_method"]["id"]})
    assert answer.status_code == 400 and answer.json()["parameter"] == "payment_method_id"


@pytest.mark.parametrize("number, reason, party", [
    ("5555555555550517", "insufficient_funds", "payment_network"),
    ("5555555555550137", "3d_secure_failed", "payment_network"),
    ("5555555555550145", "fraud_suspected", "yoo_money"),
])
def test_widget_decline_cards_cancel_the_payment_with_their_reason(yookassa, number, reason, party):
    canceled = yookassa.pay(yookassa.create_payment(), number).json()

    assert canceled["status"] == "canceled" and canceled["paid"] is False
    assert canceled["cancellation_details"] == {"party": party, "reason": reason}
    assert canceled["payment_method"]["saved"] is False


def test_three_ds_card_fails_when_the_code_is_refused(yookassa):
    passed = yookassa.pay(yookassa.create_payment(), "5555555555554477", three_ds="pass").json()
    failed = yookassa.pay(yookassa.create_payment(), "5555555555554477", three_ds="fail").json()

    assert passed["status"] == "succeeded"
    assert passed["authorization_details"]["three_d_secure"] == {"applied": True}
    assert failed["cancellation_details"]["reason"] == "3d_secure_failed"


def test_expired_card_is_canceled_as_card_expired(yookassa):
    payment = yookassa.create_payment()
    answer = requests.post(f"{yookassa.url}/widget/pay", timeout=5, json={
        "confirmation_token": payment["confirmation"]["confirmation_token"], "card": card(expiry_year="2020")})
    assert answer.json()["cancellation_details"]["reason"] == "card_expired"


def test_a_token_pays_once(yookassa):
    payment = yookassa.create_payment()
    assert yookassa.pay(payment).status_code == 200

    again = yookassa.pay(payment)

    assert again.status_code == 400 and again.json()["parameter"] == "confirmation_token"


def test_unknown_token_is_404_and_a_bad_card_number_400(yookassa):
    unknown = requests.post(f"{yookassa.url}/widget/pay", timeout=5,
                            json={"confirmation_token": "ct-nothing", "card": card()})
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"

    luhn = yookassa.pay(yookassa.create_payment(), "5555555555554445")
    assert luhn.status_code == 400 and luhn.json()["parameter"] == "card.number"


@pytest.mark.parametrize("number, reason", [
    ("5555555555550103", "insufficient_funds"), ("5555555555550111", "card_expired"),
    ("5555555555550129", "permission_revoked"), ("5555555555550160", "issuer_unavailable"),
])
def test_saved_method_charges_follow_the_test_card_table(yookassa, number, reason):
    method_id = yookassa.paid_payment(number)["payment_method"]["id"]

    charge = yookassa.charge(method_id, "149.50")

    assert charge["status"] == "canceled" and charge["cancellation_details"]["reason"] == reason
    assert charge["amount"]["value"] == "149.50"


def test_saved_method_charge_succeeds_without_the_customer(yookassa):
    method_id = yookassa.paid_payment()["payment_method"]["id"]

    charge = yookassa.charge(method_id)

    assert charge["status"] == "succeeded" and charge["payment_method"]["id"] == method_id
    assert "confirmation" not in charge


def test_revoked_method_and_queued_declines_cancel_the_next_charges(yookassa):
    method_id = yookassa.paid_payment()["payment_method"]["id"]
    yookassa.control("/decline_next", {"reason": "payment_method_limit_exceeded"})

    assert yookassa.charge(method_id)["cancellation_details"]["reason"] == "payment_method_limit_exceeded"
    assert yookassa.charge(method_id)["status"] == "succeeded"
    yookassa.control(f"/payment_methods/{method_id}/revoke")
    revoked = yookassa.charge(method_id)
    assert revoked["cancellation_details"] == {"party": "yoo_money", "reason": "permission_revoked"}


@pytest.mark.parametrize("reason", ["general_decline", "call_issuer", "payment_method_restricted", "invalid_csc",
                                    "country_forbidden", "identification_required", "internal_timeout"])
def test_any_reason_can_be_queued_for_the_next_widget_payment(yookassa, reason):
    yookassa.control("/decline_next", {"reason": reason, "payments": "widget"})

    declined = yookassa.paid_payment()
    after = yookassa.paid_payment()

    assert declined["cancellation_details"]["reason"] == reason and after["status"] == "succeeded"


def test_pending_charge_switch_answers_pending_then_settles(yookassa):
    method_id = yookassa.paid_payment()["payment_method"]["id"]
    yookassa.control("", {"pending_charge_next": 1, "pending_charge_ms": 100})

    charge = yookassa.charge(method_id)

    assert charge["status"] == "pending"
    for _ in range(100):
        if yookassa.call("GET", f"/payments/{charge['id']}")["status"] != "pending":
            break
        time.sleep(0.02)
    assert yookassa.call("GET", f"/payments/{charge['id']}")["status"] == "succeeded"


def test_two_stage_payment_waits_for_capture_then_captures_less(yookassa):
    held = yookassa.paid_payment(capture=False, value="10.00")
    assert held["status"] == "waiting_for_capture" and held["paid"] is True and TIME.match(held["expires_at"])

    captured = yookassa.call("POST", f"/payments/{held['id']}/capture",
                             {"amount": {"value": "7.00", "currency": "RUB"}})

    assert captured["status"] == "succeeded" and captured["amount"]["value"] == "7.00"
    assert "expires_at" not in captured


def test_two_stage_payment_can_be_canceled_with_an_empty_body(yookassa):
    held = yookassa.paid_payment(capture=False)

    answer = requests.post(f"{yookassa.api_url}/payments/{held['id']}/cancel", timeout=5,
                           auth=(SHOP_ID, "test_sandbox-tests-secret"),
                           headers={"Idempotence-Key": "cnl-" + held["id"], "Content-Length": "0"})

    assert answer.status_code == 200
    assert answer.json()["status"] == "canceled"
    assert answer.json()["cancellation_details"] == {"party": "merchant", "reason": "canceled_by_merchant"}


def test_only_a_waiting_payment_can_be_captured_or_canceled(yookassa):
    paid = yookassa.paid_payment()
    for action in ("capture", "cancel"):
        answer = yookassa.api("POST", f"/payments/{paid['id']}/{action}")
        assert answer.status_code == 400 and answer.json()["code"] == "invalid_request"
    assert yookassa.api("POST", "/payments/2f3c8a1e-000f-5000-8000-1a2b3c4d5e6f/capture").status_code == 404


def test_refunds_grow_refunded_amount_up_to_the_payment(yookassa):
    paid = yookassa.paid_payment(value="299.00")

    refund = yookassa.call("POST", "/refunds", {"payment_id": paid["id"],
                                                "amount": {"value": "100.00", "currency": "RUB"}})
    assert refund["status"] == "succeeded" and ID.match(refund["id"]) and refund["payment_id"] == paid["id"]
    assert yookassa.call("GET", f"/refunds/{refund['id']}") == refund
    after = yookassa.call("GET", f"/payments/{paid['id']}")
    assert after["status"] == "succeeded" and after["refunded_amount"]["value"] == "100.00"

    too_much = yookassa.api("POST", "/refunds", {"payment_id": paid["id"],
                                                 "amount": {"value": "199.01", "currency": "RUB"}})
    assert too_much.status_code == 400 and too_much.json()["parameter"] == "amount.value"
    yookassa.call("POST", "/refunds", {"payment_id": paid["id"], "amount": {"value": "199.00", "currency": "RUB"}})
    assert yookassa.call("GET", f"/payments/{paid['id']}")["refundable"] is False


def test_a_pending_payment_cannot_be_refunded(yookassa):
    payment = yookassa.create_payment()
    answer = yookassa.api("POST", "/refunds", {"payment_id": payment["id"],
                                               "amount": {"value": "1.00", "currency": "RUB"}})
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_request"


def test_payment_list_is_newest_first_with_filters_and_cursor(yookassa):
    first = yookassa.paid_payment()
    second = yookassa.create_payment()
    third = yookassa.paid_payment()

    page = yookassa.call("GET", "/payments", params={"limit": 2})
    assert [p["id"] for p in page["items"]] == [third["id"], second["id"]] and page["type"] == "list"
    rest = yookassa.call("GET", "/payments", params={"limit": 2, "cursor": page["next_cursor"]})
    assert [p["id"] for p in rest["items"]] == [first["id"]] and "next_cursor" not in rest
    succeeded = yookassa.call("GET", "/payments", params={"status": "succeeded",
                                                          "created_at.gte": first["created_at"]})
    assert [p["id"] for p in succeeded["items"]] == [third["id"], first["id"]]
    assert yookassa.api("GET", "/payments", params={"limit": 101}).status_code == 400


def test_refund_list_filters_by_payment(yookassa):
    one, other = yookassa.paid_payment(), yookassa.paid_payment()
    for payment in (one, other):
        yookassa.call("POST", "/refunds", {"payment_id": payment["id"], "amount": {"value": "1.00", "currency": "RUB"}})

    listed = yookassa.call("GET", "/refunds", params={"payment_id": one["id"]})

    assert [r["payment_id"] for r in listed["items"]] == [one["id"]]


def test_unknown_payment_is_404_not_found(yookassa):
    answer = yookassa.api("GET", "/payments/2f3c8a1e-000f-5000-8000-1a2b3c4d5e6f")
    assert answer.status_code == 404
    assert answer.json()["type"] == "error" and answer.json()["code"] == "not_found"


@pytest.mark.parametrize("body, parameter", [
    ({"confirmation": {"type": "embedded"}}, "amount"),
    ({"amount": {"value": "0.00", "currency": "RUB"}, "confirmation": {"type": "embedded"}}, "amount.value"),
    ({"amount": {"value": "1.001", "currency": "RUB"}, "confirmation": {"type": "embedded"}}, "amount.value"),
    ({"amount": {"value": "1e400", "currency": "RUB"}, "confirmation": {"type": "embedded"}}, "amount.value"),
    ({"amount": {"value": "1.00", "currency": "XXX"}, "confirmation": {"type": "embedded"}}, "amount.currency"),
    ({"amount": {"value": "1.00", "currency": "RUB"}}, "confirmation"),
    ({"amount": {"value": "1.00", "currency": "RUB"}, "confirmation": {"type": "embedded", "locale": "de_DE"}},
     "confirmation.locale"),
    ({"amount": {"value": "1.00", "currency": "RUB"}, "confirmation": {"type": "embedded", "locale": "ru"}},
     "confirmation.locale"),
    ({"amount": {"value": "1.00", "currency": "RUB"}, "confirmation": {"type": "embedded", "locale": 1}},
     "confirmation.locale"),
    ({"amount": {"value": "1.00", "currency": "RUB"}, "confirmation": {"type": "embedded"},
      "description": "x" * 129}, "description"),
    ({"amount": {"value": "1.00", "currency": "RUB"}, "confirmation": {"type": "embedded"},
      "metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
])
def test_bad_payment_requests_are_400_naming_the_parameter(yookassa, body, parameter):
    answer = yookassa.api("POST", "/payments", body)
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_request" and answer.json()["parameter"] == parameter


def test_unknown_request_keys_are_accepted(yookassa):
    payment = yookassa.call("POST", "/payments", {"amount": {"value": "1.00", "currency": "RUB"},
                                                  "confirmation": {"type": "embedded"}, "transfers": [],
                                                  "statements": [], "something_new": {"x": 1}})
    assert payment["status"] == "pending"


def test_every_post_needs_an_idempotence_key(yookassa):
    answer = yookassa.api("POST", "/payments", {"amount": {"value": "1.00", "currency": "RUB"},
                                                "confirmation": {"type": "embedded"}}, key=None)
    assert answer.status_code == 400 and answer.json()["parameter"] == "Idempotence-Key"
    too_long = yookassa.api("POST", "/payments", {}, key="k" * 65)
    assert too_long.status_code == 400 and too_long.json()["parameter"] == "Idempotence-Key"


def test_same_key_same_body_replays_the_first_answer_without_a_second_payment(yookassa):
    method_id = yookassa.paid_payment()["payment_method"]["id"]
    body = {"amount": {"value": "299.00", "currency": "RUB"}, "capture": True, "payment_method_id": method_id}

    first = yookassa.call("POST", "/payments", body, key="inv-42-a1")
    again = yookassa.call("POST", "/payments", dict(reversed(list(body.items()))), key="inv-42-a1")

    assert again == first
    assert len(yookassa.call("GET", "/payments", params={"limit": 100})["items"]) == 2
    assert yookassa.control("/stats", method="GET")["idempotent_replays"] == 1


def test_same_key_other_body_is_400_idempotence_key_duplicated(yookassa):
    method_id = yookassa.paid_payment()["payment_method"]["id"]
    yookassa.call("POST", "/payments", {"amount": {"value": "1.00", "currency": "RUB"},
                                        "payment_method_id": method_id}, key="inv-43-a1")

    other = yookassa.api("POST", "/payments", {"amount": {"value": "2.00", "currency": "RUB"},
                                               "payment_method_id": method_id}, key="inv-43-a1")
    elsewhere = yookassa.api("POST", "/refunds", {"amount": {"value": "1.00", "currency": "RUB"},
                                                  "payment_id": method_id}, key="inv-43-a1")

    for answer in (other, elsewhere):
        assert answer.status_code == 400
        assert answer.json()["description"] == "Idempotence key duplicated"
        assert answer.json()["parameter"] == "Idempotence-Key"


def test_keys_expire_after_24_hours_of_sandbox_time(yookassa):
    method_id = yookassa.paid_payment()["payment_method"]["id"]
    body = {"amount": {"value": "1.00", "currency": "RUB"}, "payment_method_id": method_id}
    first = yookassa.call("POST", "/payments", body, key="k-24h")

    yookassa.control("/clock", {"advance_seconds": 24 * 3600 + 1})

    assert yookassa.call("POST", "/payments", body, key="k-24h")["id"] != first["id"]


def test_unpaid_embedded_payment_and_stale_hold_expire_with_the_clock(yookassa):
    pending = yookassa.create_payment()
    held = yookassa.paid_payment(capture=False)

    yookassa.control("/clock", {"advance_seconds": 3601})
    assert yookassa.call("GET", f"/payments/{pending['id']}")["cancellation_details"]["reason"] == \
        "expired_on_confirmation"
    assert yookassa.pay(pending).status_code == 400
    yookassa.control("/clock", {"advance_seconds": 7 * 86400})
    assert yookassa.call("GET", f"/payments/{held['id']}")["cancellation_details"] == \
        {"party": "yoo_money", "reason": "expired_on_capture"}


def test_wrong_method_and_unknown_path_answer_json(yookassa):
    wrong = yookassa.api("DELETE", "/payments")
    missing = yookassa.api("GET", "/nothing-here")
    assert wrong.status_code == 405 and wrong.json()["type"] == "error"
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_non_json_post_body_is_415_in_json(yookassa):
    answer = requests.post(f"{yookassa.api_url}/payments", data="amount=1", timeout=5,
                           auth=(SHOP_ID, "test_sandbox-tests-secret"),
                           headers={"Idempotence-Key": "k", "Content-Type": "text/plain"})
    assert answer.status_code == 415 and answer.json()["type"] == "error"


def _receipt(value: str = "299.00", **customer) -> dict:
    return {"customer": customer or {"email": "user@example.com"}, "tax_system_code": 2, "items": [
        {"description": "Подписка «Стандарт», 1 месяц", "quantity": "1.00", "vat_code": 1,
         "amount": {"value": value, "currency": "RUB"}, "payment_mode": "full_prepayment",
         "payment_subject": "service"}]}


def test_a_receipt_must_add_up_to_the_amount_and_name_a_contact(yookassa):
    for receipt in (_receipt("298.00"), {**_receipt(), "customer": {}}):
        answer = yookassa.api("POST", "/payments", {"amount": {"value": "299.00", "currency": "RUB"},
                                                    "confirmation": {"type": "embedded"}, "receipt": receipt})
        assert answer.status_code == 400 and answer.json()["parameter"] == "receipt"


def test_receipts_register_with_fiscal_attributes_or_fail_on_the_switch(yookassa):
    paid = yookassa.paid_payment(receipt=_receipt())
    yookassa.control("", {"fail_receipt_next": 1})
    refund = yookassa.call("POST", "/refunds", {"payment_id": paid["id"], "receipt": _receipt(),
                                                "amount": {"value": "299.00", "currency": "RUB"}})

    assert paid["receipt_registration"] == "succeeded"
    [registered] = yookassa.call("GET", "/receipts", params={"payment_id": paid["id"], "status": "succeeded"})["items"]
    assert registered["type"] == "payment" and registered["fiscal_storage_number"].startswith("9999")
    assert registered["fiscal_document_number"] and len(registered["fiscal_attribute"]) == 10
    assert yookassa.call("GET", f"/refunds/{refund['id']}")["receipt_registration"] == "canceled"
