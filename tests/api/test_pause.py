"""POST .../subscriptions/<id>/pause {months} and .../resume: a pause from the period end, scheduled by a job, taken
back or resumed; refused with 409 (wrong state) or 422 (a length that is not 1 to 3 months)."""
from datetime import UTC, datetime

from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import Subscription, Transition
from tests.factories import make_plan, make_subscription


def path(sub, action):
    return f"/api/v1/customers/{sub.customer.external_id}/subscriptions/{sub.id}/{action}"


def events_of(sub):
    return db.session.scalars(select(Transition.event).where(
        Transition.entity_type == "subscription", Transition.entity_id == sub.id).order_by(Transition.id)).all()


def test_a_pause_is_scheduled_from_the_period_end_and_taken_back_by_resume(api, run_jobs):
    clock.freeze(datetime(2026, 12, 7, 10, 0, tzinfo=UTC))
    sub = make_subscription("active", plan=make_plan("monthly", amount=29900), period_days=30)

    paused = api.post(path(sub, "pause"), json={"months": 2}, headers={"Idempotency-Key": "pause-1"})

    assert paused.status_code == 202, paused.get_data(as_text=True)
    replayed = api.post(path(sub, "pause"), json={"months": 2}, headers={"Idempotency-Key": "pause-1"})
    assert replayed.headers["Idempotent-Replayed"] == "true"
    run_jobs()
    shown = api.get(path(sub, "")[:-1]).get_json()
    assert shown["status"] == "active"
    assert shown["pause"] == {"starts_at": "2027-01-06T10:00:00Z", "resumes_at": "2027-03-06T10:00:00Z"}
    assert events_of(sub).count("schedule_pause") == 1
    assert db.session.scalar(select(Transition.actor).where(Transition.entity_id == sub.id,
                                                            Transition.event == "schedule_pause")) == "api:catalog"

    again = api.post(path(sub, "pause"), json={"months": 1})
    assert again.status_code == 409 and "already pauses" in again.get_json()["detail"]

    taken_back = api.post(path(sub, "resume"))
    assert taken_back.status_code == 202
    run_jobs()
    shown = api.get(path(sub, "")[:-1]).get_json()
    assert (shown["status"], shown["pause"]) == ("active", None)
    assert events_of(sub)[-1] == "unschedule_pause"


def test_a_pause_of_a_length_other_than_one_to_three_months_is_422(api):
    sub = make_subscription("active", period_days=30)

    for months in (0, 4, "2"):
        refused = api.post(path(sub, "pause"), json={"months": months})
        assert refused.status_code == 422, months
    assert api.post(path(sub, "pause"), json={}).status_code == 422
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).pause_starts_at is None


def test_only_an_active_subscription_can_be_paused(api):
    sub = make_subscription("past_due", period_days=30)

    refused = api.post(f"/api/v1/subscriptions/{sub.id}/pause", json={"months": 1})

    assert refused.status_code == 409 and "only an active subscription can be paused" in refused.get_json()["detail"]


def test_resume_without_a_pause_is_409(api):
    sub = make_subscription("active", period_days=30)

    refused = api.post(f"/api/v1/subscriptions/{sub.id}/resume", json={})

    assert refused.status_code == 409 and "no pause is scheduled" in refused.get_json()["detail"]


def test_another_customers_path_does_not_find_the_subscription(api):
    sub = make_subscription("active", period_days=30)

    assert api.post(f"/api/v1/customers/someone-else/subscriptions/{sub.id}/pause",
                    json={"months": 1}).status_code == 404
