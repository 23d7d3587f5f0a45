"""POST /api/v1/customers/<external_id>/subscriptions/<id>/change-plan {plan, when}: an upgrade answers with
its proration invoice, a downgrade is scheduled by a job and undone by asking for the current plan again."""
from datetime import timedelta

import pytest

from portal import clock
from portal.extensions import db
from portal.models import Subscription
from portal.queue import waiting_jobs
from tests.factories import make_plan, make_subscription


@pytest.fixture
def plans(app):
    return make_plan("basic", amount=30000), make_plan("premium", amount=60000)


def path(sub):
    return f"/api/v1/customers/{sub.customer.external_id}/subscriptions/{sub.id}/change-plan"


def test_upgrade_answers_with_the_proration_invoice_to_pay(api, plans):
    basic, _ = plans
    sub = make_subscription("active", plan=basic, period_days=30)
    clock.advance(timedelta(days=10, hours=1))

    response = api.post(path(sub), json={"plan": "premium"}, headers={"Idempotency-Key": "up-1"})

    assert response.status_code == 202
    body = response.get_json()
    # 19 whole days of 30 unused: (60000 - 30000) × 19 / 30.
    assert (body["when"], body["direction"], body["amount"], body["currency"]) == ("now", "upgrade", 19000, "RUB")
    assert (body["invoice"]["kind"], body["invoice"]["status"], body["invoice"]["amount"]) == ("proration", "open",
                                                                                                 19000)
    assert body["charging_card"] is False  # no saved card: the customer pays the invoice in the widget
    assert body["subscription"]["plan"]["code"] == "basic"  # until the proration is paid
    replay = api.post(path(sub), json={"plan": "premium"}, headers={"Idempotency-Key": "up-1"})
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json()["invoice"]["id"] == body["invoice"]["id"]


def test_downgrade_is_scheduled_for_the_period_end_and_undone_by_asking_for_the_current_plan(api, plans, run_jobs):
    _, premium = plans
    sub = make_subscription("active", plan=premium, period_days=30)

    response = api.post(path(sub), json={"plan": "basic"})

    assert response.status_code == 202
    body = response.get_json()
    assert (body["when"], body["direction"], body["amount"], body["invoice"]) == ("period_end", "downgrade", 0, None)
    assert body["effective_at"] == api.get(f"/api/v1/subscriptions/{sub.id}").get_json()["current_period_end"]
    run_jobs()
    assert api.get(f"/api/v1/subscriptions/{sub.id}").get_json()["scheduled_plan"] == {"code": "basic",
                                                                                      "name": "Basic",
                                                                                      "description": ""}

    assert api.post(path(sub), json={"plan": "premium", "when": "period_end"}).status_code == 202
    run_jobs()
    assert db.session.get(Subscription, sub.id).scheduled_plan_id is None
    assert api.get(f"/api/v1/subscriptions/{sub.id}").get_json()["scheduled_plan"] is None


def test_a_downgrade_now_is_a_409_problem_saying_when_it_can_be_made(api, plans):
    _, premium = plans
    sub = make_subscription("active", plan=premium)

    response = api.post(path(sub), json={"plan": "basic", "when": "now"})

    assert response.status_code == 409
    assert "period end" in response.get_json()["detail"]
    assert waiting_jobs() == []


@pytest.mark.parametrize("status", ["pending", "past_due", "canceled"])
def test_a_subscription_that_is_not_active_cannot_change_plan(api, plans, status):
    sub = make_subscription(status, plan=plans[0])

    assert api.post(path(sub), json={"plan": "premium"}).status_code == 409


@pytest.mark.parametrize("body,status", [
    ({}, 422), ({"plan": ""}, 422), ({"plan": "premium", "when": "tomorrow"}, 422), ({"plan": "premium", "x": 1}, 422),
    ({"plan": "nope"}, 404), ({"plan": "basic"}, 409),
])
def test_bad_change_plan_requests_are_problems(api, plans, body, status):
    sub = make_subscription("active", plan=plans[0])

    assert api.post(path(sub), json=body).status_code == status


def test_another_customers_subscription_cannot_change_plan(api, plans):
    sub = make_subscription("active", plan=plans[0])
    other = make_subscription("active", plan=plans[0])

    response = api.post(f"/api/v1/customers/{other.customer.external_id}/subscriptions/{sub.id}/change-plan",
                        json={"plan": "premium"})

    assert response.status_code == 404
    assert api.post(f"/api/v1/subscriptions/{sub.id}/change-plan", json={"plan": "premium"}).status_code == 202
