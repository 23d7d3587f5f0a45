"""A price move staff scheduled is visible to the platform: the subscription's representation names the price and
the moment from which the first renewal bills it."""
from datetime import UTC, datetime

from sqlalchemy import select

from portal import clock
from portal.billing import prices
from portal.extensions import db
from portal.machines import atomic
from portal.models import OutboxMessage, Subscription, Transition
from tests.factories import make_plan, make_subscription


def test_a_scheduled_price_is_shown_with_the_end_of_its_notice(api):
    clock.freeze(datetime(2026, 12, 7, 10, 0, tzinfo=UTC))
    plan = make_plan("monthly", amount=29900)
    sub = make_subscription("active", plan=plan, period_days=30)
    assert api.get(f"/api/v1/subscriptions/{sub.id}").get_json()["scheduled_price"] is None
    plan.amount = 34900
    with atomic():
        prices.move_to_plan_price(sub.id, actor="staff:1", cause="2027 prices")

    body = api.get(f"/api/v1/subscriptions/{sub.id}").get_json()
    assert body["amount"] == 29900
    assert body["scheduled_price"] == {"amount": 34900, "effective_from": "2027-01-06T10:00:00Z"}


def move_path(sub):
    return f"/api/v1/customers/{sub.customer.external_id}/subscriptions/{sub.id}/move-price"


def test_the_api_moves_a_subscription_to_its_plans_price_after_notice_once(api):
    clock.freeze(datetime(2026, 12, 7, 10, 0, tzinfo=UTC))
    plan = make_plan("monthly", amount=29900)
    sub = make_subscription("active", plan=plan, period_days=30)
    plan.amount = 34900
    db.session.commit()

    moved = api.post(move_path(sub), json={}, headers={"Idempotency-Key": "move-1"})

    assert moved.status_code == 200, moved.get_data(as_text=True)
    body = moved.get_json()
    assert (body["amount"], body["currency"], body["effective_from"], body["first_renewal_at"]) == (
        34900, "RUB", "2027-01-06T10:00:00Z", "2027-01-06T10:00:00Z")
    assert body["subscription"]["amount"] == 29900
    replayed = api.post(move_path(sub), json={}, headers={"Idempotency-Key": "move-1"})
    assert replayed.headers["Idempotent-Replayed"] == "true"
    db.session.expire_all()
    assert (db.session.get(Subscription, sub.id).scheduled_amount, db.session.get(Subscription, sub.id).amount) == (
        34900, 29900)
    events = db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.routing_key == "subscription.price_change_scheduled")).all()
    assert len(events) == 1
    assert db.session.scalar(select(Transition.actor).where(
        Transition.entity_id == sub.id, Transition.event == "schedule_price_change")) == "api:catalog"


def test_a_subscription_already_at_its_plans_price_gets_409_and_nothing_changes(api):
    plan = make_plan("monthly", amount=29900)
    sub = make_subscription("active", plan=plan, period_days=30)

    refused = api.post(move_path(sub), json={})

    assert refused.status_code == 409 and "already pays the plan's price" in refused.get_json()["detail"]
    assert db.session.scalar(select(OutboxMessage.id).where(
        OutboxMessage.routing_key == "subscription.price_change_scheduled")) is None


def test_an_ended_subscription_cannot_change_price(api):
    plan = make_plan("monthly", amount=29900)
    sub = make_subscription("canceled", plan=plan, period_days=30)
    plan.amount = 34900
    db.session.commit()

    refused = api.post(f"/api/v1/subscriptions/{sub.id}/move-price")

    assert refused.status_code == 409 and "only a live subscription changes price" in refused.get_json()["detail"]


def test_a_body_with_unknown_fields_is_422(api):
    plan = make_plan("monthly", amount=29900)
    sub = make_subscription("active", plan=plan, period_days=30)

    refused = api.post(move_path(sub), json={"amount": 100})

    assert refused.status_code == 422
