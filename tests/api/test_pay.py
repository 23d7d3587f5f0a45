"""POST /api/v1/pay: a service starts a checkout for a customer and gets what the payment widget needs."""
import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Invoice, Subscription, User
from tests.api.conftest import PROBLEM
from tests.factories import make_customer, make_plan, make_subscription

PAY = "/api/v1/pay"


def pay_body(plan="basic", external_id="auth-42", email="viewer@example.com", **customer):
    return {"customer": {"external_id": external_id, "email": email, **customer}, "plan": plan}


@pytest.fixture
def basic(app):
    return make_plan("basic", amount=29900)


def test_pay_creates_pending_subscription_and_open_invoice_with_widget_parameters(api, basic):
    response = api.post(PAY, json=pay_body(name="Anna"))

    assert response.status_code == 201
    body = response.get_json()
    sub = db.session.get(Subscription, body["subscription"]["id"])
    invoice = db.session.get(Invoice, body["invoice"]["id"])
    assert (sub.status, invoice.status, invoice.kind) == ("pending", "open", "initial")
    assert invoice.subscription_id == sub.id and invoice.checkout_started_at is not None
    customer = db.session.scalar(select(User).where(User.external_id == "auth-42"))
    assert (customer.email, customer.name) == ("viewer@example.com", "Anna")

    assert body["subscription"]["status"] == "pending"
    assert body["subscription"]["plan"] == {"code": "basic", "name": "Basic", "description": ""}
    assert body["subscription"]["customer"] == {"external_id": "auth-42", "email": "viewer@example.com"}
    assert (body["subscription"]["amount"], body["subscription"]["currency"]) == (29900, "RUB")
    assert (body["invoice"]["amount"], body["invoice"]["currency"], body["invoice"]["amount_refunded"]) == (
        29900, "RUB", 0)
    widget = body["widget"]
    # The widget takes major units: 299.00 roubles, while the rest of the API speaks kopecks.
    assert widget["amount"] == 299.0
    assert widget["currency"] == "RUB"
    assert widget["invoiceId"] == str(invoice.id)
    assert widget["accountId"] == "auth-42"
    assert widget["email"] == "viewer@example.com"
    assert widget["publicId"] == api.application.config["CLOUDPAYMENTS_PUBLIC_ID"]
    assert widget["data"] == {"subscription_id": sub.id, "kind": "initial"}
    assert "Basic" in widget["description"]
    assert body["widget_script_url"].endswith(".js")


def test_pay_for_a_trial_plan_asks_the_widget_for_a_small_card_check(api, app):
    make_plan("premium", amount=59900, trial_days=7)

    body = api.post(PAY, json=pay_body("premium")).get_json()

    assert (body["invoice"]["kind"], body["invoice"]["amount"]) == ("verification", 100)
    assert (body["widget"]["scheme"], body["widget"]["amount"]) == ("auth", 1.0)


def test_paying_twice_reuses_the_checkout(api, basic):
    first = api.post(PAY, json=pay_body()).get_json()
    second = api.post(PAY, json=pay_body()).get_json()

    assert second["subscription"]["id"] == first["subscription"]["id"]
    assert second["invoice"]["id"] == first["invoice"]["id"]
    assert db.session.scalar(select(func.count(Subscription.id))) == 1
    assert db.session.scalar(select(func.count(Invoice.id))) == 1


def test_pay_updates_a_known_customers_email(api, basic):
    make_customer(email="old@example.com", external_id="auth-42")

    api.post(PAY, json=pay_body(email="New@Example.com"))

    customer = db.session.scalar(select(User).where(User.external_id == "auth-42"))
    assert customer.email == "new@example.com"
    assert db.session.scalar(select(func.count(User.id))) == 1


def test_unknown_plan_is_a_404_problem(api, basic):
    response = api.post(PAY, json=pay_body("platinum"))

    assert response.status_code == 404
    assert response.mimetype == PROBLEM
    problem = response.get_json()
    assert problem["status"] == 404 and "platinum" in problem["detail"]
    # Nothing the request touched before failing is kept.
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_archived_plan_cannot_be_bought(api, app):
    make_plan("old", status="archived")

    assert api.post(PAY, json=pay_body("old")).status_code == 404


def test_customer_with_a_live_subscription_gets_409(api, basic):
    customer = make_customer(external_id="auth-42", email="viewer@example.com")
    live = make_subscription("active", plan=basic, customer=customer)

    response = api.post(PAY, json=pay_body())

    assert response.status_code == 409
    assert str(live.id) in response.get_json()["detail"]


def test_email_of_another_customer_is_a_409_problem_not_a_500(api, basic):
    make_customer(email="taken@example.com", external_id="someone-else")

    response = api.post(PAY, json=pay_body(email="taken@example.com"))

    assert response.status_code == 409
    assert "belongs to another account" in response.get_json()["detail"]


@pytest.mark.parametrize("raw", [b"{", b"{'plan': 'basic'}", b"not json", b'{"plan": NaN}', b"\xff\xfe{}",
                                 b"[" * 50000])
def test_malformed_json_is_a_400_problem(api, basic, raw):
    response = api.post(PAY, data=raw, content_type="application/json")

    assert response.status_code == 400
    assert response.get_json()["type"].endswith("/malformed-body")


def test_empty_body_is_a_400_problem(api, basic):
    response = api.post(PAY, data=b"", content_type="application/json")

    assert response.status_code == 400
    assert "empty" in response.get_json()["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_sent_as_json_is_a_415_problem(api, basic, content_type):
    response = api.post(PAY, data='{"plan": "basic"}', content_type=content_type)

    assert response.status_code == 415
    assert "application/json" in response.get_json()["detail"]


@pytest.mark.parametrize("body, expected", [
    ({}, {"#/customer": "is required", "#/plan": "is required"}),
    ({"customer": {}, "plan": "basic"},
     {"#/customer/external_id": "is required", "#/customer/email": "is required"}),
    ({"customer": "auth-42", "plan": "basic"}, {"#/customer": "must be an object, not a string"}),
    (pay_body(plan=7), {"#/plan": "must be a string, not an integer"}),
    (pay_body(plan=""), {"#/plan": "must not be empty"}),
    (pay_body(external_id=42), {"#/customer/external_id": "must be a string, not an integer"}),
    (pay_body(external_id="a" * 129), {"#/customer/external_id": "must be at most 128 characters"}),
    (pay_body(external_id="auth\u000042"), {"#/customer/external_id": "must not contain control characters"}),
    (pay_body(email="not-an-email"), {"#/customer/email": "must be an email address such as name@example.com"}),
    (pay_body(email=None), {"#/customer/email": "must be a string, not null"}),
    (pay_body(name=["Anna"]), {"#/customer/name": "must be a string, not an array"}),
    ({**pay_body(), "coupon": "FREE"}, {"#/coupon": "is not a known field (allowed: customer, plan)"}),
    ([pay_body()], {"#": "must be an object, not an array"}),
])
def test_invalid_fields_are_a_422_problem_listing_each_field(api, basic, body, expected):
    response = api.post(PAY, json=body)

    assert response.status_code == 422
    problem = response.get_json()
    assert {e["pointer"]: e["detail"] for e in problem["errors"]} == expected
    for pointer in expected:
        assert (pointer[2:] or "body") in problem["detail"]
    assert db.session.scalar(select(func.count(Subscription.id))) == 0


def test_an_oversized_body_is_refused_before_it_is_read(api, basic):
    response = api.post(PAY, json=pay_body(name="x" * 70000))

    assert response.status_code == 413


def test_a_customer_whose_subscription_ended_resubscribes_through_pay_and_keeps_the_history(api, basic):
    customer = make_customer(external_id="auth-42", email="viewer@example.com")
    ended = make_subscription("canceled", plan=basic, customer=customer)

    response = api.post(PAY, json=pay_body(), headers={"Idempotency-Key": "resubscribe-1"})

    assert response.status_code == 201
    body = response.get_json()
    assert body["subscription"]["id"] != ended.id and body["subscription"]["status"] == "pending"
    assert (body["invoice"]["kind"], body["invoice"]["amount"]) == ("initial", 29900)
    listed = api.get("/api/v1/customers/auth-42/subscriptions").get_json()["subscriptions"]
    assert [(s["id"], s["status"]) for s in listed] == [(body["subscription"]["id"], "pending"), (ended.id, "canceled")]
