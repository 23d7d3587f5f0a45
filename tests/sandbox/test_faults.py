"""Fault switches and counters: concurrency limit, latency, injected 500s and timeouts, control, stats."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests


def _parallel(count, call):
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: call(), range(count)))


def test_over_the_concurrency_limit_is_429(sandbox):
    sandbox.control(latency_ms=300)  # default limit: 5 at once

    statuses = _parallel(8, lambda: sandbox.api("test", {}).status_code)

    assert statuses.count(200) == 5
    assert statuses.count(429) == 3
    stats = sandbox.stats()
    assert stats["rejected_429"] == 3 and stats["in_flight_max"] == 5
    assert stats["api_calls"]["test"] == 8


def test_thirty_concurrent_requests_are_served_with_a_raised_limit(sandbox):
    # A long latency keeps every request in flight together even on a busy machine.
    sandbox.control(concurrency_limit=30, latency_ms=1500)

    started = time.monotonic()
    statuses = _parallel(30, lambda: sandbox.api("test", {}).status_code)

    assert statuses == [200] * 30
    assert time.monotonic() - started < 15  # side by side; one after another would take 45 s
    assert sandbox.stats()["in_flight_max"] >= 25


def test_429_answers_without_effect(sandbox, invoice_id):
    token = sandbox.saved_token("4242424242424242")
    sandbox.control(concurrency_limit=1, latency_ms=300)
    blocker = threading.Thread(target=lambda: sandbox.api("test", {}))
    blocker.start()
    time.sleep(0.1)

    refused = sandbox.api("payments/tokens/charge", {"Amount": 1, "AccountId": "user-1", "Token": token,
                                                     "TrInitiatorCode": 0, "InvoiceId": str(invoice_id)})
    blocker.join()

    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert str(invoice_id) not in sandbox.stats()["charges_per_invoice"]


def test_fail_next_answers_500_then_recovers(sandbox, invoice_id):
    token = sandbox.saved_token("4242424242424242")
    sandbox.control(fail_next=2)
    headers = {"X-Request-ID": f"retry-{invoice_id}"}
    body = {"Amount": 5, "AccountId": "user-1", "Token": token, "TrInitiatorCode": 0, "InvoiceId": str(invoice_id)}

    statuses = [sandbox.api("payments/tokens/charge", body, headers=headers).status_code for _ in range(3)]

    assert statuses == [500, 500, 200]
    stats = sandbox.stats()
    assert stats["injected_500"] == 2
    assert stats["charges_per_invoice"][str(invoice_id)] == 1


def test_timeout_next_hangs_after_charging_and_the_retry_replays(sandbox, invoice_id):
    token = sandbox.saved_token("4242424242424242")
    sandbox.control(timeout_next=1, timeout_seconds=1.0)
    headers = {"X-Request-ID": f"slow-{invoice_id}"}
    body = {"Amount": 5, "AccountId": "user-1", "Token": token, "TrInitiatorCode": 0, "InvoiceId": str(invoice_id)}

    with pytest.raises(requests.ReadTimeout):
        sandbox.api("payments/tokens/charge", body, headers=headers, timeout=0.3)
    retry = sandbox.api("payments/tokens/charge", body, headers=headers)

    assert retry.status_code == 200 and retry.json()["Success"] is True
    stats = sandbox.stats()
    assert stats["charges_per_invoice"][str(invoice_id)] == 1
    assert stats["injected_timeouts"] == 1 and stats["idempotent_replays"] == 1


def test_timeout_before_effect_charges_nothing(sandbox, invoice_id):
    token = sandbox.saved_token("4242424242424242")
    sandbox.control(timeout_next=1, timeout_seconds=0.6, timeout_effect=False)
    body = {"Amount": 5, "AccountId": "user-1", "Token": token, "TrInitiatorCode": 0, "InvoiceId": str(invoice_id)}

    with pytest.raises(requests.ReadTimeout):
        sandbox.api("payments/tokens/charge", body, timeout=0.2)

    assert str(invoice_id) not in sandbox.stats()["charges_per_invoice"]


def test_latency_slows_every_call(sandbox):
    sandbox.control(latency_ms=250)
    started = time.monotonic()
    sandbox.call("test", {})
    assert time.monotonic() - started >= 0.25


def test_control_shows_and_validates_settings(sandbox, merchant):
    settings = requests.get(f"{sandbox.url}/control", timeout=5).json()
    assert settings["concurrency_limit"] == 5 and settings["notifications"] == "normal"
    assert settings["effective_urls"]["pay"] == f"{merchant.url}/webhooks/cloudpayments/pay"

    for bad in ({"notifications": "sometimes"}, {"latency_ms": -1}, {"no_such_switch": 1},
                {"urls": {"nope": "http://x"}}, {"concurrency_limit": 0}):
        response = requests.post(f"{sandbox.url}/control", json=bad, timeout=5)
        assert response.status_code == 400, bad
    assert requests.get(f"{sandbox.url}/control", timeout=5).json()["latency_ms"] == 0


def test_reset_restores_defaults_and_clears_storage(sandbox, invoice_id):
    token = sandbox.saved_token("4242424242424242")
    sandbox.control(latency_ms=10, fail_next=3, merchant_url="http://127.0.0.1:9")

    settings = requests.post(f"{sandbox.url}/control/reset", timeout=5).json()

    assert (settings["latency_ms"], settings["fail_next"]) == (0, 0)
    assert settings["merchant_url"] != "http://127.0.0.1:9"
    assert sandbox.call("payments/tokens/list", {})["Model"] == []
    assert sandbox.charge(token, invoice_id=invoice_id)["Message"] == "Token not found"
    assert sandbox.notifications() == []


def test_stats_count_calls_answers_and_charges(sandbox, new_invoice_id):
    first, second = new_invoice_id(), new_invoice_id()
    sandbox.widget_pay("4242424242424242", invoice_id=first)
    sandbox.widget_pay("4000056655665556", invoice_id=second)
    sandbox.call("payments/find", {"InvoiceId": str(first)})
    sandbox.api("test", {}, auth=None)

    stats = sandbox.stats()

    assert stats["api_calls"] == {"payments/find": 1, "test": 1}
    assert stats["answered_by_status"] == {"200": 1, "401": 1}
    assert stats["charges_per_invoice"] == {str(first): 1, str(second): 1}
    assert stats["approved_charges_per_invoice"] == {str(first): 1}
    assert stats["in_flight"] == 0
    assert 0 <= stats["in_flight_avg"] <= stats["in_flight_max"]
    requests.post(f"{sandbox.url}/stats/reset", timeout=5)
    assert sandbox.stats()["api_calls_total"] == 0
