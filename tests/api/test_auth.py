"""Bearer tokens from API_TOKENS: who may call the API, and under which client name."""
import logging

import pytest
from sqlalchemy import select

from portal.api.auth import client_for_token, parse_tokens
from portal.extensions import db
from portal.models import IdempotencyKey, Transition
from tests.api.conftest import BARE_TOKEN, CATALOG_TOKEN, PLAYER_TOKEN
from tests.factories import make_plan, make_subscription


@pytest.mark.parametrize("setting, expected", [
    ("catalog:abc123,auth:def456", [("catalog", "abc123"), ("auth", "def456")]),
    ("abc123", [("default", "abc123")]),
    (" catalog : abc123 , ,def456,", [("catalog", "abc123"), ("default", "def456")]),
    ("catalog:", []),
    (":abc123", [("default", "abc123")]),
    ("", []),
    (None, []),
])
def test_api_tokens_setting_is_read_as_client_token_pairs(setting, expected):
    assert parse_tokens(setting) == expected


def test_a_token_belongs_to_its_client_only():
    pairs = parse_tokens("catalog:abc123,auth:def456")
    assert client_for_token("def456", pairs) == "auth"
    assert client_for_token("abc12", pairs) is None
    assert client_for_token("abc1234", pairs) is None


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
