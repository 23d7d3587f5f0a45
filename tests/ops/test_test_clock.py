"""Test clocks (sandbox mode only): moving one customer's time runs their trial end, renewals, dunning and
expiry through the normal ticks, and nobody else's."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import Invoice, OutboxMessage, StaffAction, Subscription, TestClock
from portal.ops import test_clock
from tests.factories import make_customer, make_plan
from tests.flows.conftest import LATER_DECLINED_CARD, SUCCESS_CARD
from tests.ops.support import metric

ANOTHER_GOOD_CARD = "5555 5555 5555 4444"  # not in the sandbox's table: a plain good card


def reload(sub_id):
    db.session.expire_all()
    return db.session.get(Subscription, sub_id)


def subscribe(billing, plan_code, card=SUCCESS_CARD, external_id=None):
    sub, _, params = billing.checkout(make_customer(external_id=external_id), plan_code)
    assert billing.pay(params, card=card)["Success"] is True
    billing.work()
    return reload(sub.id)


def advance(client, headers, external_id, to):
    return client.post(f"/api/v1/test-clocks/{external_id}/advance", json={"to": to.isoformat()}, headers=headers)


def renewal(sub_id):
    return db.session.scalars(select(Invoice).where(Invoice.subscription_id == sub_id, Invoice.kind == "renewal")).one()


def test_moving_one_customers_clock_past_the_trial_end_charges_them_and_nobody_else(billing, client, api_token):
    make_plan(code="trial", amount=29900, trial_days=7)
    moved = subscribe(billing, "trial", external_id="moved")
    other = subscribe(billing, "trial", card=ANOTHER_GOOD_CARD, external_id="other")  # one trial per card
    assert (moved.status, other.status) == ("trialing", "trialing")

    answer = advance(client, api_token, "moved", moved.trial_end + timedelta(minutes=1))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.json["offset_seconds"] >= 7 * 86400
    billing.work()  # the ticks the move enqueued, then the renewal job they found due
    billing.assert_no_failed_jobs()

    assert reload(moved.id).status == "active"
    assert renewal(moved.id).status == "paid"
    # The renewal is dated in the customer's time: its period starts at the trial end.
    assert reload(moved.id).current_period_start == moved.trial_end
    assert reload(other.id).status == "trialing"
    assert not db.session.scalars(select(Invoice).where(Invoice.subscription_id == other.id,
                                                        Invoice.kind == "renewal")).all()


def test_a_moved_clock_drives_a_failed_renewal_through_dunning_to_expiry(billing, client, api_token):
    make_plan(code="monthly", amount=29900)
    sub = subscribe(billing, "monthly", card=LATER_DECLINED_CARD, external_id="late-payer")
    before = client.get("/metrics").get_data(as_text=True)

    assert advance(client, api_token, "late-payer", sub.current_period_end + timedelta(minutes=1)).status_code == 200
    billing.work()
    failed = renewal(sub.id)
    assert reload(sub.id).status == "past_due"
    # The first failure happened at the customer's time: retries are a day after it, not after the real now.
    first_failure = failed.dunning_ends_at - timedelta(days=5)
    assert first_failure >= sub.current_period_end and failed.next_attempt_at == first_failure + timedelta(days=1)

    for day, attempts in ((1, 2), (3, 3), (5, 4)):
        retry_time = first_failure + timedelta(days=day, minutes=1)
        assert advance(client, api_token, "late-payer", retry_time).status_code == 200
        billing.work()
        db.session.expire_all()
        assert db.session.get(Invoice, failed.id).attempt_count == attempts

    assert reload(sub.id).status == "expired"
    assert db.session.get(Invoice, failed.id).status == "void"
    billing.assert_no_failed_jobs()
    # What an operator saw of it: the renewal and its three retries failed, then dunning gave up.
    after = client.get("/metrics").get_data(as_text=True)

    def moved(name, **labels):
        return (metric(after, name, **labels) or 0) - (metric(before, name, **labels) or 0)
    assert moved("portal_renewals_total", outcome="failed") == 4
    assert [moved("portal_dunning_attempts_total", attempt=str(n)) for n in (1, 2, 3, 4)] == [1, 1, 1, 1]
    assert moved("portal_dunning_exhausted_total") == 1
    assert moved("portal_payment_declines_total", provider="cloudpayments", category="insufficient_funds") == 4


def test_with_a_real_provider_the_clock_is_refused_and_nothing_moves(app, client, api_token, staff, monkeypatch):
    customer = make_customer(external_id="real-money")
    db.session.commit()
    monkeypatch.setitem(app.config, "PAYMENT_PROVIDER", "cloudpayments")
    monkeypatch.setitem(app.config, "PAYMENT_PROVIDERS", "cloudpayments")

    answer = advance(client, api_token, "real-money", clock.now() + timedelta(days=3))
    assert answer.status_code == 409
    assert answer.content_type == "application/problem+json"
    assert "sandbox mode" in answer.json["detail"]
    page = staff.post(f"/admin/customers/{customer.id}/test-clock", {"confirm": "yes", "days": "3", "offset": "0"})
    assert page.status_code == 409 and "sandbox mode" in page.get_data(as_text=True)
    assert db.session.scalars(select(TestClock)).all() == []


@pytest.mark.parametrize(("providers", "yookassa_url", "sandbox"), [
    ("sandbox", "https://api.yookassa.ru/v3", True),
    ("sandbox,yookassa", "http://127.0.0.1:8001/yookassa/v3", True),
    ("sandbox,yookassa", "https://api.yookassa.ru/v3", False),
    ("cloudpayments,sandbox", "http://127.0.0.1:8001/yookassa/v3", False),
    ("yookassa", "http://yookassa.internal/v3", False),
])
def test_sandbox_mode_is_every_provider_an_emulator(app, providers, yookassa_url, sandbox):
    settings = {"PAYMENT_PROVIDER": providers.split(",")[0], "PAYMENT_PROVIDERS": providers,
                "YOOKASSA_API_URL": yookassa_url}
    assert test_clock.sandbox_mode(settings) is sandbox


def test_a_clock_only_moves_forward_and_the_same_target_moves_it_once(app, client, api_token):
    make_customer(external_id="forward")
    db.session.commit()
    target = clock.now() + timedelta(days=10)

    first = advance(client, api_token, "forward", target)
    again = advance(client, api_token, "forward", target)
    assert first.status_code == again.status_code == 200
    assert abs(again.json["offset_seconds"] - first.json["offset_seconds"]) <= 1

    back = advance(client, api_token, "forward", target - timedelta(days=2))
    assert back.status_code == 422 and "only moves forward" in back.json["detail"]
    naive = client.post("/api/v1/test-clocks/forward/advance", json={"to": "2030-01-01T00:00:00"}, headers=api_token)
    assert naive.status_code == 422 and "time zone" in naive.json["detail"]


def test_the_clock_api_needs_a_token_with_write_scope(app, client, monkeypatch):
    make_customer(external_id="guarded")
    db.session.commit()
    monkeypatch.setitem(app.config, "API_TOKENS", "reader:reader-secret-token:read")

    assert client.post("/api/v1/test-clocks/guarded/advance", json={"to": "2030-01-01T00:00:00Z"}).status_code == 401
    forbidden = client.post("/api/v1/test-clocks/guarded/advance", json={"to": "2030-01-01T00:00:00Z"},
                            headers={"Authorization": "Bearer reader-secret-token"})
    assert forbidden.status_code == 403
    assert db.session.scalars(select(TestClock)).all() == []


def test_staff_move_a_clock_after_confirming_once_and_the_move_is_audited(app, staff):
    customer = make_customer()
    db.session.commit()
    url = f"/admin/customers/{customer.id}/test-clock"

    asked = staff.post(url, {"days": "3"})
    assert asked.status_code == 200 and "Move the clock 3 days ahead" in asked.get_data(as_text=True)
    assert db.session.get(TestClock, customer.id) is None  # nothing moves before the confirmation

    assert staff.post(url, {"confirm": "yes", "days": "3", "offset": "0"}).status_code == 303
    assert staff.post(url, {"confirm": "yes", "days": "3", "offset": "0"}).status_code == 303  # a double submit
    db.session.expire_all()
    assert db.session.get(TestClock, customer.id).offset_seconds == 3 * 86400
    actions = db.session.scalars(select(StaffAction).where(StaffAction.action == "advance_test_clock")).all()
    assert [(a.target_id, a.staff_user_id, a.details["offset_seconds"]) for a in actions] == \
        [(str(customer.id), staff.user.id, 3 * 86400)] * 2
    # A confirmation shown before someone else moved the clock further is refused.
    stale = staff.post(url, {"confirm": "yes", "days": "1", "offset": str(86400)})
    assert stale.status_code == 409 and "moved by someone else" in stale.get_data(as_text=True)
    assert staff.post(url, {"days": "0"}).status_code == 422
    assert db.session.get(TestClock, customer.id).offset_seconds == 3 * 86400


def test_a_moved_clock_sends_the_trial_ending_reminder_of_that_customer_only(billing, client, api_token):
    make_plan(code="trial", amount=29900, trial_days=7)
    moved = subscribe(billing, "trial", external_id="reminded")
    other = subscribe(billing, "trial", card=ANOTHER_GOOD_CARD, external_id="not-reminded")

    # Five of the seven trial days later for one customer: their trial ends in two days.
    assert advance(client, api_token, "reminded", moved.trial_end - timedelta(days=2)).status_code == 200
    billing.work()

    reminders = db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.routing_key == "subscription.trial_ending")).all()
    assert [r.aggregate_id for r in reminders] == [moved.id]
    assert reload(other.id).status == reload(moved.id).status == "trialing"
