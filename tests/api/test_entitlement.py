"""GET /api/v1/customers/<external_id>/entitlement: asked on every play, so correct, cheap and cacheable."""
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from portal import clock, statements
from portal.extensions import db
from tests.factories import make_customer, make_plan, make_subscription


@pytest.fixture
def basic(app):
    return make_plan("basic")


def entitlement(api, external_id="auth-7"):
    return api.get(f"/api/v1/customers/{external_id}/entitlement")


def test_unknown_customer_is_a_404_problem(api, basic):
    response = entitlement(api, "nobody")

    assert response.status_code == 404
    assert "nobody" in response.get_json()["detail"]


def test_a_customer_whose_checkout_is_pending_may_not_watch(api, basic):
    make_subscription("pending", plan=basic, customer=make_customer(external_id="auth-7"))

    response = entitlement(api)

    assert response.status_code == 200
    assert response.get_json() == {"entitled": False, "status": None, "plan": None, "until": None,
                                   "subscription_id": None}
    # A refusal is never reused: the payment may land a second later.
    assert response.headers["Cache-Control"] == "no-store"


def test_an_active_customer_may_watch_until_the_period_ends(api, basic):
    clock.freeze(datetime(2025, 5, 10, 8, 0, tzinfo=UTC))
    sub = make_subscription("active", plan=basic, customer=make_customer(external_id="auth-7"), period_days=30)

    response = entitlement(api)

    assert response.get_json() == {"entitled": True, "status": "active", "plan": "basic",
                                   "until": "2025-06-09T08:00:00Z", "subscription_id": sub.id}
    assert response.headers["Cache-Control"] == "private, max-age=30"


def test_a_grant_is_never_cached_past_its_end(api, basic):
    make_subscription("active", plan=basic, customer=make_customer(external_id="auth-7"), period_days=1)
    clock.advance(timedelta(days=1, seconds=-12))

    response = entitlement(api)

    assert response.get_json()["entitled"] is True
    assert response.headers["Cache-Control"] in ("private, max-age=12", "private, max-age=11")


def test_a_past_due_customer_keeps_watching_during_dunning(api, basic):
    make_subscription("past_due", plan=basic, customer=make_customer(external_id="auth-7"), period_days=1)
    clock.advance(timedelta(days=3))

    body = entitlement(api).get_json()

    assert (body["entitled"], body["status"]) == (True, "past_due")


def test_an_active_subscription_past_its_period_end_gives_no_access(api, basic):
    make_subscription("active", plan=basic, customer=make_customer(external_id="auth-7"), period_days=1)
    clock.advance(timedelta(days=2))

    body = entitlement(api).get_json()

    assert body["entitled"] is False and body["status"] == "active"


def test_entitlement_is_answered_with_one_statement(api, basic, monkeypatch):
    make_subscription("active", plan=basic, customer=make_customer(external_id="auth-7"))
    db.session.commit()
    through_core, direct = [], []

    def count(conn, cursor, statement, *args):
        through_core.append(statement)

    run = statements._run
    monkeypatch.setattr(statements, "_run", lambda url, sql, params: direct.append(sql) or run(url, sql, params))
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = entitlement(api)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)

    assert response.status_code == 200 and response.get_json()["entitled"] is True
    assert through_core == [] and len(direct) == 1, (through_core, direct)
