"""Fault switches over real HTTP: 500 before and after the work, 429, 202, dropped connections, latency,
non-JSON bodies; what a repeat with the same Idempotence-Key then gets; a restart that keeps the keys."""

import threading
import time

import pytest
import requests

from .conftest import GOOD_CARD, YooKassaClient, serve, yookassa_app


def _renewal(yookassa):
    method_id = yookassa.paid_payment(GOOD_CARD)["payment_method"]["id"]
    return {"amount": {"value": "299.00", "currency": "RUB"}, "capture": True, "payment_method_id": method_id}


def _payment_count(yookassa) -> int:
    return len(yookassa.call("GET", "/payments", params={"limit": 100})["items"])


def test_500_before_does_nothing_and_the_same_key_then_pays_once(yookassa):
    body = _renewal(yookassa)
    yookassa.fault("payments.create", "500_before")

    failed = yookassa.api("POST", "/payments", body, key="inv-1-a1")
    assert failed.status_code == 500 and failed.json()["code"] == "internal_server_error"
    assert _payment_count(yookassa) == 1

    retried = yookassa.call("POST", "/payments", body, key="inv-1-a1")
    assert retried["status"] == "succeeded" and _payment_count(yookassa) == 2


def test_500_after_does_the_work_and_the_same_key_replays_it(yookassa):
    body = _renewal(yookassa)
    yookassa.fault("payments.create", "500_after")

    assert yookassa.api("POST", "/payments", body, key="inv-2-a1").status_code == 500
    assert _payment_count(yookassa) == 2

    replay = yookassa.call("POST", "/payments", body, key="inv-2-a1")
    assert replay["status"] == "succeeded" and _payment_count(yookassa) == 2


def test_dropped_connection_after_the_work_is_found_by_the_same_key(yookassa):
    body = _renewal(yookassa)
    yookassa.fault("payments.create", "drop")

    with pytest.raises(requests.ConnectionError):
        yookassa.api("POST", "/payments", body, key="inv-3-a1")

    replay = yookassa.call("POST", "/payments", body, key="inv-3-a1")
    assert replay["status"] == "succeeded" and _payment_count(yookassa) == 2


def test_429_and_202_answer_without_doing_the_work(yookassa):
    body = _renewal(yookassa)
    yookassa.fault("payments.create", "429")
    yookassa.fault("payments.create", "202")

    limited = yookassa.api("POST", "/payments", body, key="inv-4-a1")
    processing = yookassa.api("POST", "/payments", body, key="inv-4-a1")

    assert limited.status_code == 429 and limited.json()["code"] == "too_many_requests"
    assert processing.status_code == 202 and processing.json()["type"] == "processing"
    assert _payment_count(yookassa) == 1
    assert yookassa.call("POST", "/payments", body, key="inv-4-a1")["status"] == "succeeded"


def test_non_json_fault_answers_html(yookassa):
    yookassa.fault("payments.get", "non_json")
    answer = yookassa.api("GET", "/payments/2f3c8a1e-000f-5000-8000-1a2b3c4d5e6f")
    assert answer.status_code == 502 and answer.headers["Content-Type"].startswith("text/html")


def test_faults_apply_to_their_operation_for_their_count_or_until_cleared(yookassa):
    yookassa.fault("me", "500_before", count=2)
    yookassa.fault("refunds.get", "429", count=None)

    assert [yookassa.api("GET", "/me").status_code for _ in range(3)] == [500, 500, 200]
    assert [yookassa.api("GET", "/refunds/x").status_code for _ in range(3)] == [429, 429, 429]
    requests.delete(f"{yookassa.url}/_control/faults", timeout=5).raise_for_status()
    assert yookassa.api("GET", "/refunds/x").status_code == 404


def test_latency_switches_slow_the_answer(yookassa):
    yookassa.fault("me", "latency", latency_ms=300)
    started = time.monotonic()
    yookassa.call("GET", "/me")
    assert time.monotonic() - started >= 0.3


def test_a_repeat_arriving_while_the_first_runs_waits_for_it_and_gets_its_answer(yookassa):
    body = _renewal(yookassa)
    yookassa.fault("payments.create", "latency", latency_ms=400)
    answers = []
    first = threading.Thread(target=lambda: answers.append(yookassa.call("POST", "/payments", body, key="k-race")))
    first.start()
    time.sleep(0.1)
    started = time.monotonic()
    answers.append(yookassa.call("POST", "/payments", body, key="k-race"))
    waited = time.monotonic() - started
    first.join()

    assert answers[0] == answers[1] and _payment_count(yookassa) == 2
    assert yookassa.control("/stats", method="GET")["idempotent_replays"] == 1
    assert waited >= 0.2  # it waited for the first one's work instead of doing its own


def test_a_restarted_sandbox_with_a_state_file_remembers_payments_and_keys(merchant, tmp_path):
    state = tmp_path / "yookassa.state"
    first_app = yookassa_app(merchant.url, YOOKASSA_SANDBOX_STATE_FILE=str(state))
    server = serve(first_app)
    client = YooKassaClient(f"http://127.0.0.1:{server.server_port}", first_app)
    body = _renewal(client)
    charge = client.call("POST", "/payments", body, key="inv-9-a1")
    server.shutdown()
    first_app.extensions["yookassa_sandbox"].shutdown()

    again_app = yookassa_app(merchant.url, YOOKASSA_SANDBOX_STATE_FILE=str(state))
    server = serve(again_app)
    try:
        again = YooKassaClient(f"http://127.0.0.1:{server.server_port}", again_app)
        assert again.call("GET", f"/payments/{charge['id']}") == charge
        assert again.call("POST", "/payments", body, key="inv-9-a1") == charge
        assert _payment_count(again) == 2
    finally:
        server.shutdown()
        again_app.extensions["yookassa_sandbox"].shutdown()
