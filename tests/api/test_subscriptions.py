"""Reading subscriptions, and asking for cancel and repay, through the JSON API."""
from datetime import UTC, datetime, timedelta

import pytest

from portal import clock
from portal.extensions import db
from portal.models import Invoice, PaymentMethod, Subscription
from portal.queue import billing_queue, waiting_jobs
from tests.api.conftest import PROBLEM
from tests.factories import make_customer, make_invoice, make_plan, make_subscription


@pytest.fixture
def basic(app):
    return make_plan("basic", amount=30000)


def with_card(sub):
    card = PaymentMethod.for_token("tok_api_test", owner=sub.customer, provider="sandbox", card_first_six="400000",
                                   card_last_four="3055", card_type="Visa", card_exp="12/30")
    sub.payment_method = card
    db.session.commit()
    return card


def test_get_subscription_shows_its_plan_customer_period_and_card(api, basic):
    clock.freeze(datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=UTC))
    customer = make_customer(email="anna@example.com", external_id="auth-7")
    sub = make_subscription("active", plan=basic, customer=customer, period_days=31)
    with_card(sub)

    response = api.get(f"/api/v1/subscriptions/{sub.id}")

    assert response.status_code == 200
    assert response.get_json() == {
        "id": sub.id, "status": "active", "plan": {"code": "basic", "name": "Basic", "description": ""},
        "customer": {"external_id": "auth-7", "email": "anna@example.com"},
        "amount": 30000, "currency": "RUB",
        "current_period_start": "2025-03-01T09:30:15Z", "current_period_end": "2025-04-01T09:30:15Z",
        "trial_end": None, "cancel_at_period_end": False, "canceled_at": None, "ended_at": None, "ending": None,
        "trial_refusal": None, "card": {"mask": "Visa •••• 3055", "exp": "12/30"}, "scheduled_plan": None,
        "scheduled_price": None, "pause": None,
    }


@pytest.mark.parametrize("path", ["/api/v1/subscriptions/999", "/api/v1/subscriptions/99999999999999999999",
                                  "/api/v1/subscriptions/-1", "/api/v1/subscriptions/abc"])
def test_unknown_subscription_is_a_404_problem(api, basic, path):
    response = api.get(path)

    assert response.status_code == 404
    assert response.mimetype == PROBLEM


def test_a_subscription_under_another_customers_path_does_not_exist(api, basic):
    make_customer(external_id="auth-mine")
    theirs = make_subscription("active", plan=basic, customer=make_customer(external_id="auth-theirs"))

    foreign = api.get(f"/api/v1/customers/auth-mine/subscriptions/{theirs.id}")
    own = api.get(f"/api/v1/customers/auth-theirs/subscriptions/{theirs.id}")
    unknown = api.get("/api/v1/customers/auth-mine/subscriptions/999")

    assert foreign.status_code == 404
    # The answer must not tell "someone else's" from "nobody's".
    assert foreign.get_json()["detail"] == unknown.get_json()["detail"].replace("999", str(theirs.id))
    assert own.status_code == 200


def test_foreign_cancel_and_repay_are_404_and_change_nothing(api, basic):
    make_customer(external_id="auth-mine")
    theirs = make_subscription("past_due", plan=basic, customer=make_customer(external_id="auth-theirs"))

    cancel = api.post(f"/api/v1/customers/auth-mine/subscriptions/{theirs.id}/cancel", json={"when": "now"})
    repay = api.post(f"/api/v1/customers/auth-mine/subscriptions/{theirs.id}/repay")

    assert (cancel.status_code, repay.status_code) == (404, 404)
    assert waiting_jobs() == []


def test_a_customers_subscriptions_are_listed_newest_first(api, basic):
    customer = make_customer(external_id="auth-7")
    older = make_subscription("canceled", plan=basic, customer=customer)
    older.created_at = datetime.now(UTC) - timedelta(days=40)
    newer = make_subscription("active", plan=make_plan("premium"), customer=customer)
    make_subscription("active", plan=basic)  # someone else's
    db.session.commit()

    response = api.get("/api/v1/customers/auth-7/subscriptions")

    assert response.status_code == 200
    assert [s["id"] for s in response.get_json()["subscriptions"]] == [newer.id, older.id]


def test_a_known_customer_without_subscriptions_has_an_empty_list(api, basic):
    make_customer(external_id="auth-7")

    assert api.get("/api/v1/customers/auth-7/subscriptions").get_json() == {"subscriptions": []}


@pytest.mark.parametrize("external_id", ["nobody", "x" * 300, "a%00b"])
def test_listing_an_unknown_customer_is_a_404_problem(api, basic, external_id):
    response = api.get(f"/api/v1/customers/{external_id}/subscriptions")

    assert response.status_code == 404


def test_cancel_at_period_end_is_accepted_and_done_by_the_job(api, basic, run_jobs):
    sub = make_subscription("active", plan=basic)

    response = api.post(f"/api/v1/subscriptions/{sub.id}/cancel", json={"when": "period_end"})

    assert response.status_code == 202
    body = response.get_json()
    assert (body["when"], body["refund_amount"], body["currency"]) == ("period_end", None, "RUB")
    assert body["subscription"]["cancel_at_period_end"] is False  # not yet: the job does it
    run_jobs()
    sub = db.session.get(Subscription, sub.id)
    assert (sub.status, sub.cancel_at_period_end) == ("active", True)
    after = api.get(f"/api/v1/subscriptions/{sub.id}").get_json()
    assert after["cancel_at_period_end"] is True


def test_cancel_without_a_body_means_at_period_end(api, basic, run_jobs):
    sub = make_subscription("active", plan=basic)

    response = api.post(f"/api/v1/subscriptions/{sub.id}/cancel")

    assert response.status_code == 202
    assert response.get_json()["when"] == "period_end"


def test_cancel_now_says_the_refund_and_the_job_ends_the_subscription(api, basic, run_jobs):
    sub = make_subscription("active", plan=basic, period_days=30)
    make_invoice(sub, status="paid")
    clock.advance(timedelta(days=10, hours=1))

    response = api.post(f"/api/v1/customers/{sub.customer.external_id}/subscriptions/{sub.id}/cancel",
                        json={"when": "now"})

    assert response.status_code == 202
    # 19 whole days of 30 left unused: 30000 × 19 / 30 kopecks.
    assert response.get_json()["refund_amount"] == 19000
    run_jobs()
    sub = db.session.get(Subscription, sub.id)
    assert sub.status == "canceled" and sub.canceled_at is not None


def test_cancelling_a_canceled_subscription_is_a_409_problem(api, basic):
    sub = make_subscription("canceled", plan=basic)

    response = api.post(f"/api/v1/subscriptions/{sub.id}/cancel", json={"when": "now"})

    assert response.status_code == 409
    assert "canceled" in response.get_json()["detail"]
    assert waiting_jobs() == []


def test_a_never_paid_subscription_cannot_wait_for_a_period_end(api, basic):
    sub = make_subscription("pending", plan=basic)

    assert api.post(f"/api/v1/subscriptions/{sub.id}/cancel", json={"when": "period_end"}).status_code == 409


@pytest.mark.parametrize("body, pointer", [({"when": "tomorrow"}, "#/when"), ({"when": None}, "#/when"),
                                          ({"at": "now"}, "#/at"), ("now", "#")])
def test_cancel_with_an_invalid_body_is_a_422_problem(api, basic, body, pointer):
    sub = make_subscription("active", plan=basic)

    response = api.post(f"/api/v1/subscriptions/{sub.id}/cancel", json=body)

    assert response.status_code == 422
    assert [e["pointer"] for e in response.get_json()["errors"]] == [pointer]


def test_cancel_with_a_form_body_is_a_415_problem(api, basic):
    sub = make_subscription("active", plan=basic)

    response = api.post(f"/api/v1/subscriptions/{sub.id}/cancel", data={"when": "now"})

    assert response.status_code == 415


def test_repay_of_an_active_subscription_is_a_409_problem(api, basic):
    sub = make_subscription("active", plan=basic)

    response = api.post(f"/api/v1/subscriptions/{sub.id}/repay")

    assert response.status_code == 409
    assert "nothing to pay" in response.get_json()["detail"]


def test_repay_of_a_past_due_subscription_queues_a_charge_of_its_open_invoice(api, basic):
    sub = make_subscription("past_due", plan=basic)
    with_card(sub)
    invoice = make_invoice(sub, kind="renewal", status="open")

    response = api.post(f"/api/v1/subscriptions/{sub.id}/repay", json={})

    assert response.status_code == 202
    assert response.get_json()["invoice"]["id"] == invoice.id
    job = billing_queue().fetch_job(f"repay-invoice-{invoice.id}-attempt-1")
    assert job is not None and job.func_name == "workers.payments.charge_invoice"
    assert db.session.get(Invoice, invoice.id).status == "open"


def test_repay_without_a_saved_card_is_a_409_problem(api, basic):
    sub = make_subscription("past_due", plan=basic)
    make_invoice(sub, kind="renewal", status="open")

    response = api.post(f"/api/v1/subscriptions/{sub.id}/repay")

    assert response.status_code == 409
    assert "saved card" in response.get_json()["detail"]


def test_wrong_method_is_a_405_problem_naming_the_allowed_one(api, basic):
    response = api.get("/api/v1/pay")

    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert "POST" in response.get_json()["detail"]


def test_unknown_api_path_is_a_404_problem_but_pages_keep_their_own_404(api, basic):
    response = api.get("/api/v1/no/such/thing")

    assert response.status_code == 404
    assert "openapi.json" in response.get_json()["detail"]
    assert api.get("/no/such/page").mimetype == "text/html"


# (status it ends in, from, actor of the ending transition, the reason the API gives): every END_REASONS word.
ENDINGS = [
    ("expired", "pending", "job:checkout-expiry", "checkout_unpaid"),
    ("canceled", "pending", "customer:1", "checkout_canceled"),
    ("canceled", "active", "job:renewal", "auto_renew_off"),
    ("expired", "past_due", "job:dunning", "payment_failed"),
    ("canceled", "active", "customer:1", "by_customer"),
    ("canceled", "trialing", "customer:1", "trial_canceled"),
    ("canceled", "active", "staff:1", "by_staff"),
    ("canceled", "paused", "api:platform", "by_platform"),
]


@pytest.mark.parametrize("status,source,actor,reason", ENDINGS, ids=[e[-1] for e in ENDINGS])
def test_an_ended_subscription_says_when_and_why_it_ended(api, basic, status, source, actor, reason):
    from portal.machines import atomic, fire, lock

    clock.freeze(datetime(2025, 3, 10, 12, 0, 5, tzinfo=UTC))
    sub = make_subscription(source, plan=basic, customer=make_customer(external_id="auth-ended"))
    with atomic():
        fire(lock(Subscription, sub.id), "cancel" if status == "canceled" else "expire", actor=actor, cause="test")

    shown = api.get(f"/api/v1/customers/auth-ended/subscriptions/{sub.id}").get_json()
    assert (shown["status"], shown["ended_at"]) == (status, "2025-03-10T12:00:05Z")
    assert shown["ending"] == {"at": "2025-03-10T12:00:05Z", "reason": reason}
    [listed] = api.get("/api/v1/customers/auth-ended/subscriptions").get_json()["subscriptions"]
    assert listed["ending"] == shown["ending"]


def test_a_refused_trial_says_why_before_the_customer_pays(api, billing):
    from tests.flows.conftest import SUCCESS_CARD

    make_plan("premium", amount=59900, trial_days=7)
    first = api.post("/api/v1/pay", json={"customer": {"external_id": "trial-1", "email": "one@example.com"},
                                          "plan": "premium"}).get_json()
    assert billing.pay(first["widget"], card=SUCCESS_CARD)["Success"] is True
    billing.work()
    assert api.get(f"/api/v1/subscriptions/{first['subscription']['id']}").get_json()["trial_refusal"] is None

    # The same card on another account: its card check is refused, the checkout is paid from the first day.
    second = api.post("/api/v1/pay", json={"customer": {"external_id": "trial-2", "email": "two@example.com"},
                                           "plan": "premium"}).get_json()
    assert billing.pay(second["widget"], card=SUCCESS_CARD)["Success"] is False
    billing.work()
    shown = api.get(f"/api/v1/customers/trial-2/subscriptions/{second['subscription']['id']}").get_json()
    assert (shown["status"], shown["trial_end"], shown["trial_refusal"], shown["ending"]) == (
        "pending", None, "card_used", None)
