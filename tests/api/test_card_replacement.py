"""POST .../subscriptions/<id>/card: the platform's own page replaces a customer's renewal card through a card
check in the widget."""
from datetime import timedelta

from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import Invoice, Subscription
from tests.factories import make_plan
from tests.flows.conftest import LATER_DECLINED_CARD, SUCCESS_CARD
from workers import ticks


def subscribed(api, billing):
    make_plan("basic", amount=29900)
    body = api.post("/api/v1/pay", json={"customer": {"external_id": "auth-card", "email": "card@example.com"},
                                         "plan": "basic"}).get_json()
    assert billing.pay(body["widget"], card=LATER_DECLINED_CARD)["Success"] is True
    billing.work()
    return body["subscription"]["id"]


def test_the_api_opens_a_card_check_and_the_proven_card_becomes_the_renewal_card(api, billing):
    sub_id = subscribed(api, billing)
    path = f"/api/v1/customers/auth-card/subscriptions/{sub_id}/card"
    first = api.post(path, json={}, headers={"Idempotency-Key": "card-check-1"})
    assert first.status_code == 201, first.get_data(as_text=True)
    body = first.get_json()
    assert (body["invoice"]["kind"], body["invoice"]["amount"], body["widget"]["scheme"]) == ("card_check", 100, "auth")
    replayed = api.post(path, json={}, headers={"Idempotency-Key": "card-check-1"})
    assert replayed.get_json()["invoice"]["id"] == body["invoice"]["id"]

    assert billing.pay(body["widget"], card=SUCCESS_CARD)["Success"] is True
    billing.work()
    billing.work()
    db.session.expire_all()
    sub = db.session.get(Subscription, sub_id)
    assert sub.payment_method.card_last_four == "3055"
    assert db.session.scalar(select(Invoice.status).where(Invoice.id == body["invoice"]["id"])) == "void"
    shown = api.get(f"/api/v1/customers/auth-card/subscriptions/{sub_id}").get_json()
    assert "3055" in str(shown)


def test_an_ended_subscription_gets_409(api, billing):
    sub_id = subscribed(api, billing)
    api.post(f"/api/v1/customers/auth-card/subscriptions/{sub_id}/cancel", json={"when": "now"})
    billing.work()
    billing.work()
    refused = api.post(f"/api/v1/customers/auth-card/subscriptions/{sub_id}/card", json={})
    assert refused.status_code == 409 and "only a live subscription" in refused.get_json()["detail"]


def test_a_paused_subscription_gets_a_card_check_so_its_resume_charges_the_new_card(api, billing):
    sub_id = subscribed(api, billing)
    base = f"/api/v1/customers/auth-card/subscriptions/{sub_id}"
    assert api.post(f"{base}/pause", json={"months": 1}).status_code < 300
    billing.work()
    db.session.expire_all()
    clock.freeze(db.session.get(Subscription, sub_id).current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    assert api.get(base).get_json()["status"] == "paused"

    opened = api.post(f"{base}/card", json={})
    assert opened.status_code == 201, opened.get_data(as_text=True)
    assert billing.pay(opened.get_json()["widget"], card=SUCCESS_CARD)["Success"] is True
    billing.work()
    billing.work()
    shown = api.get(base).get_json()
    assert shown["status"] == "paused" and "3055" in shown["card"]["mask"]
