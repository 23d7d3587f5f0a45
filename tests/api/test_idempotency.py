"""Idempotency-Key on POSTs: a retried request gets the first answer and does the work once."""
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from portal.api.idempotency import request_fingerprint
from portal.extensions import db
from portal.models import IdempotencyKey, Subscription
from portal.queue import waiting_jobs
from tests.api.conftest import PLAYER_TOKEN, ApiClient
from tests.factories import make_customer, make_plan, make_subscription

PAY = "/api/v1/pay"
BODY = {"customer": {"external_id": "auth-42", "email": "viewer@example.com"}, "plan": "basic"}


@pytest.fixture
def basic(app):
    return make_plan("basic")


def pay(api, body=BODY, key="key-1", **kwargs):
    return api.post(PAY, json=body, headers={"Idempotency-Key": key}, **kwargs)


def key_rows():
    return db.session.scalars(select(IdempotencyKey).order_by(IdempotencyKey.id)).all()


def test_a_repeat_with_the_same_key_and_body_replays_the_first_answer(api, basic):
    first = pay(api)
    # The checkout the first answer describes is paid meanwhile: the replay still says what was answered.
    db.session.execute(text("UPDATE subscriptions SET status = 'active'"))
    db.session.commit()
    second = pay(api)

    assert first.status_code == second.status_code == 201
    assert second.get_json() == first.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert db.session.scalar(select(func.count(Subscription.id))) == 1
    [row] = key_rows()
    assert (row.client, row.key, row.method, row.path, row.locked, row.response_status) == (
        "catalog", "key-1", "POST", PAY, False, 201)
    assert row.request_hash == request_fingerprint(json.dumps(BODY).encode())


def test_the_same_json_written_differently_is_the_same_request(api, basic):
    pay(api)
    reordered = b'{ "plan": "basic",\n  "customer": {"email": "viewer@example.com", "external_id": "auth-42"} }'

    again = api.post(PAY, data=reordered, content_type="application/json", headers={"Idempotency-Key": "key-1"})

    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"


def test_the_same_key_with_a_different_body_is_a_422_problem(api, basic):
    pay(api)

    response = pay(api, {**BODY, "customer": {**BODY["customer"], "email": "other@example.com"}})

    assert response.status_code == 422
    assert response.get_json()["type"].endswith("/idempotency-key-reused")
    assert "different body" in response.get_json()["detail"]
    assert db.session.scalar(select(func.count(Subscription.id))) == 1


def test_the_same_key_on_another_endpoint_is_a_422_problem(api, basic):
    sub = make_subscription("active", plan=basic)
    pay(api)

    response = api.post(f"/api/v1/subscriptions/{sub.id}/cancel", json={}, headers={"Idempotency-Key": "key-1"})

    assert response.status_code == 422
    assert "POST /api/v1/pay" in response.get_json()["detail"]
    assert waiting_jobs() == []


def test_keys_belong_to_one_client(api, basic):
    pay(api)

    other = pay(api, token=PLAYER_TOKEN)

    assert other.status_code == 201
    assert "Idempotent-Replayed" not in other.headers
    assert [r.client for r in key_rows()] == ["catalog", "player"]


def test_a_request_that_was_not_understood_does_not_use_up_its_key(api, basic):
    broken = pay(api, {"customer": BODY["customer"]})
    fixed = pay(api)

    assert (broken.status_code, fixed.status_code) == (422, 201)
    assert "Idempotent-Replayed" not in fixed.headers


def test_an_answer_from_billing_is_kept_even_when_it_is_an_error(api, basic):
    first = pay(api, {**BODY, "plan": "platinum"})
    make_plan("platinum")
    second = pay(api, {**BODY, "plan": "platinum"})

    assert first.status_code == second.status_code == 404
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.mimetype == "application/problem+json"
    assert second.get_json() == first.get_json()


def test_a_key_older_than_24_hours_is_forgotten(api, basic):
    db.session.add(IdempotencyKey(client="catalog", key="key-1", method="POST", path="/api/v1/elsewhere",
                                  request_hash="0" * 64, response_status=201, response_body={}, locked=False,
                                  created_at=datetime.now(UTC) - timedelta(hours=25)))
    db.session.commit()

    response = pay(api)

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    [row] = key_rows()
    assert (row.path, row.response_status) == (PAY, 201)


def test_a_claim_left_by_a_dead_process_is_taken_over_after_a_while(api, basic):
    db.session.add(IdempotencyKey(client="catalog", key="key-1", method="POST", path=PAY,
                                  request_hash=request_fingerprint(b""), locked=True,
                                  created_at=datetime.now(UTC) - timedelta(minutes=10)))
    db.session.commit()

    assert pay(api).status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 256, "ключ"])
def test_a_malformed_key_is_a_400_problem(api, basic, key):
    response = pay(api, key=key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.get_json()["detail"]
    assert key_rows() == []


def test_a_repeat_while_the_first_is_in_flight_is_a_409_problem(api, basic, openapi_document):
    customer = make_customer(email="viewer@example.com", external_id="auth-42")
    results = {}

    # Hold the customer's row, so the first request stops at its first write and stays in flight.
    with db.engine.connect() as blocker:
        blocker.execute(text("SELECT 1 FROM users WHERE id = :id FOR UPDATE"), {"id": customer.id})

        def first_request():
            client = ApiClient(api.application, api.application.response_class)
            client.document = openapi_document
            results["first"] = pay(client)

        thread = threading.Thread(target=first_request)
        thread.start()
        deadline = time.monotonic() + 10
        while not db.session.scalar(select(func.count(IdempotencyKey.id))) and time.monotonic() < deadline:
            db.session.rollback()
            time.sleep(0.05)

        concurrent = pay(api)
        blocker.rollback()
    thread.join(timeout=20)

    assert concurrent.status_code == 409
    assert concurrent.get_json()["type"].endswith("/idempotency-key-in-flight")
    assert results["first"].status_code == 201
    db.session.rollback()
    after = pay(api)
    assert after.headers["Idempotent-Replayed"] == "true"
    assert after.get_json() == results["first"].get_json()


def test_a_cancel_sent_twice_with_one_key_is_queued_once(api, basic, run_jobs):
    sub = make_subscription("active", plan=basic)
    url = f"/api/v1/subscriptions/{sub.id}/cancel"

    first = api.post(url, json={"when": "period_end"}, headers={"Idempotency-Key": "cancel-1"})
    run_jobs()
    second = api.post(url, json={"when": "period_end"}, headers={"Idempotency-Key": "cancel-1"})

    assert first.status_code == second.status_code == 202
    assert second.get_json() == first.get_json()
    assert waiting_jobs() == []
    assert db.session.get(Subscription, sub.id).cancel_at_period_end is True


@pytest.fixture
def broken_provider(api_app):
    """A deployment whose provider setting is wrong, with errors handled as in production (not propagated)."""
    saved = {k: api_app.config.get(k) for k in ("PAYMENT_PROVIDER", "PAYMENT_PROVIDERS", "PROPAGATE_EXCEPTIONS")}
    provider = api_app.extensions.pop("payment_provider", None)
    api_app.config.update(PAYMENT_PROVIDER="no-such-provider", PAYMENT_PROVIDERS=None, PROPAGATE_EXCEPTIONS=False)
    yield
    api_app.config.update(saved)
    api_app.extensions.pop("payment_provider", None)
    if provider is not None:
        api_app.extensions["payment_provider"] = provider


def test_a_server_failure_is_a_500_problem_that_leaks_nothing_and_frees_the_key(api_app, basic, broken_provider):
    client = api_app.test_client()
    headers = {"Authorization": f"Bearer {PLAYER_TOKEN}", "Idempotency-Key": "key-1"}

    response = client.post(PAY, json=BODY, headers=headers)

    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert "no-such-provider" not in response.get_data(as_text=True)
    assert response.get_json()["status"] == 500
    # Nothing was committed and the key is free: the same request can simply be sent again.
    assert key_rows() == []
    assert db.session.scalar(select(func.count(Subscription.id))) == 0
