"""Bearer tokens from API_TOKENS: who may call the API, and under which client name."""
import logging

import pytest
from sqlalchemy import select

from portal.api.auth import parse_token_entries, token_for
from portal.extensions import db
from portal.models import IdempotencyKey, Subscription, Transition
from portal.queue import billing_queue
from tests.api.conftest import BARE_TOKEN, CATALOG_TOKEN, PLAYER_TOKEN, READ_ONLY_TOKEN
from tests.factories import make_plan, make_subscription

READ, BOTH = frozenset({"read"}), frozenset({"read", "write"})


@pytest.mark.parametrize("setting, expected", [
    ("catalog:abc123:read,checkout:def456:read+write", [("catalog", "abc123", READ), ("checkout", "def456", BOTH)]),
    ("catalog:abc123:write+read", [("catalog", "abc123", BOTH)]),
    ("catalog:abc123,auth:def456", [("catalog", "abc123", BOTH), ("auth", "def456", BOTH)]),  # before scopes
    ("catalog:abc:123", [("catalog", "abc:123", BOTH)]),  # not scopes: part of the token, as before
    ("abc123", [("default", "abc123", BOTH)]),
    (" catalog : abc123 : read , ,def456,", [("catalog", "abc123", READ), ("default", "def456", BOTH)]),
    ("catalog:", []),
    ("catalog::read", []),
    (":abc123", [("default", "abc123", BOTH)]),
    ("", []),
    (None, []),
])
def test_api_tokens_setting_is_read_as_client_token_and_scopes(setting, expected):
    assert [(e.client, e.token, e.scopes) for e in parse_token_entries(setting)] == expected


def test_a_token_belongs_to_its_client_only():
    entries = parse_token_entries("catalog:abc123:read,auth:def456:read+write")
    assert token_for("def456", entries).client == "auth"
    assert token_for("abc12", entries) is None
    assert token_for("abc1234", entries) is None


def test_missing_token_is_a_401_problem_with_a_bearer_challenge(api):
    response = api.get("/api/v1/customers/auth-42/entitlement", token=None)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert "Authorization: Bearer" in response.get_json()["detail"]


@pytest.mark.parametrize("header", ["Bearer wrong-token", f"Bearer {CATALOG_TOKEN}x", f"Basic {CATALOG_TOKEN}",
                                    "Bearer", f"bearer  {CATALOG_TOKEN[:-1]}"])
def test_wrong_token_is_a_401_problem(api, header):
    response = api.get("/api/v1/customers/auth-42/entitlement", token=None, headers={"Authorization": header})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_posts_are_refused_without_a_token_before_the_body_is_looked_at(api):
    response = api.post("/api/v1/pay", data=b"{", content_type="application/json", token=None)

    assert response.status_code == 401


def test_no_configured_tokens_means_no_access(api):
    api.application.config["API_TOKENS"] = ""

    assert api.get("/api/v1/subscriptions/1").status_code == 401


def test_tokens_are_never_logged(api, caplog):
    with caplog.at_level(logging.DEBUG):
        api.get("/api/v1/subscriptions/1", token="guessed-secret-value")
        api.get("/api/v1/subscriptions/1", token=PLAYER_TOKEN)

    assert "guessed-secret-value" not in caplog.text
    assert PLAYER_TOKEN not in caplog.text


def test_the_openapi_document_needs_no_token(api):
    assert api.get("/api/v1/openapi.json", token=None).status_code == 200


def test_each_client_acts_under_its_own_name(api, run_jobs):
    sub = make_subscription("active", plan=make_plan("basic"))

    api.post(f"/api/v1/subscriptions/{sub.id}/cancel", json={"when": "period_end"}, token=PLAYER_TOKEN,
             headers={"Idempotency-Key": "k-1"})
    api.post("/api/v1/pay", json={"customer": {"external_id": "x", "email": "x@example.com"}, "plan": "basic"},
             token=BARE_TOKEN, headers={"Idempotency-Key": "k-1"})
    run_jobs()

    transition = db.session.scalar(
        select(Transition).where(Transition.entity_type == "subscription", Transition.entity_id == sub.id))
    assert transition.actor == "api:player"
    assert transition.cause == f"POST /api/v1/subscriptions/{sub.id}/cancel (Idempotency-Key k-1)"
    clients = db.session.scalars(select(IdempotencyKey.client)).all()
    assert sorted(clients) == ["default", "player"]


# --- scopes (finding 8 of issue 14) ------------------------------------------------------------------------


def test_a_read_only_token_reads_but_cannot_pay_cancel_or_repay(api):
    sub = make_subscription("active", plan=make_plan("basic"))
    external_id = sub.customer.external_id

    assert api.get(f"/api/v1/subscriptions/{sub.id}", token=READ_ONLY_TOKEN).status_code == 200
    assert api.get(f"/api/v1/customers/{external_id}/entitlement", token=READ_ONLY_TOKEN).status_code == 200
    writes = [("/api/v1/pay", {"customer": {"external_id": "new-1", "email": "new@example.com"}, "plan": "basic"}),
              (f"/api/v1/subscriptions/{sub.id}/cancel", {"when": "now"}),
              (f"/api/v1/subscriptions/{sub.id}/repay", {})]
    for path, body in writes:
        refused = api.post(path, json=body, token=READ_ONLY_TOKEN, headers={"Idempotency-Key": "k-1"})
        assert refused.status_code == 403, path
        assert 'error="insufficient_scope", scope="write"' in refused.headers["WWW-Authenticate"]
        assert "'write' scope" in refused.get_json()["detail"]

    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).status == "active"
    assert db.session.scalars(select(Subscription)).all() == [db.session.get(Subscription, sub.id)]
    assert db.session.scalars(select(IdempotencyKey)).all() == []
    assert db.session.scalars(select(Transition)).all() == []


def test_a_token_from_before_scopes_keeps_reading_and_writing_and_the_start_log_names_its_client(
        test_config, caplog):
    from portal import create_app

    with caplog.at_level(logging.WARNING, logger="portal.api.auth"):
        create_app({**test_config, "API_TOKENS": "legacy:legacy-secret,modern:modern-secret:read"})
    assert "'legacy'" in caplog.text and "'modern'" not in caplog.text
    assert "legacy-secret" not in caplog.text
    [legacy, modern] = parse_token_entries("legacy:legacy-secret,modern:modern-secret:read")
    assert legacy.scopes == {"read", "write"} and modern.scopes == {"read"}


def test_a_repay_asked_through_the_api_is_charged_under_the_clients_name(api):
    from tests.api.test_subscriptions import with_card
    from tests.factories import make_invoice

    sub = make_subscription("past_due", plan=make_plan("basic"))
    with_card(sub)
    invoice = make_invoice(sub, kind="renewal", status="open")

    response = api.post(f"/api/v1/subscriptions/{sub.id}/repay", json={}, token=PLAYER_TOKEN,
                        headers={"Idempotency-Key": "repay-1"})

    assert response.status_code == 202
    job = billing_queue().fetch_job(f"repay-invoice-{invoice.id}-attempt-1")
    # The job's transitions (payment, invoice, subscription) are written with these.
    assert job.kwargs["actor"] == "api:player"
    assert job.kwargs["cause"] == f"POST /api/v1/subscriptions/{sub.id}/repay (Idempotency-Key repay-1)"
