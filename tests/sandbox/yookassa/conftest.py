"""Fixtures for the YooKassa sandbox: the emulator over real HTTP, posting to the recording merchant."""

from __future__ import annotations

import itertools
import json
import time
import uuid

import pytest
import requests

from portal.sandbox.yookassa import create_app
from tests.sandbox.conftest import serve

SHOP_ID = "100501"
SECRET_KEY = "test_sandbox-tests-secret"
GOOD_CARD = "5555555555554444"

_invoice_numbers = itertools.count(int(time.time()) % 100_000 * 1000)


def card(number: str = GOOD_CARD, expiry_year: str = "2030") -> dict:
    return {"number": number, "expiry_month": "12", "expiry_year": expiry_year, "csc": "123"}


class YooKassaClient:
    """Talks to the running emulator as the portal (API), a browser (widget/pay) and a tester (_control)."""

    def __init__(self, url: str, app):
        self.url = url
        self.api_url = url + "/v3"
        self.app = app

    def api(self, method: str, path: str, body=None, *, key: str | None = "auto", auth=True, params=None,
            headers=None, timeout=10) -> requests.Response:
        all_headers = dict(headers or {})
        if method == "POST" and key is not None:
            all_headers["Idempotence-Key"] = uuid.uuid4().hex if key == "auto" else key
        return requests.request(method, self.api_url + path, json=body, params=params, headers=all_headers,
                                auth=(SHOP_ID, SECRET_KEY) if auth is True else auth, timeout=timeout)

    def call(self, method: str, path: str, body=None, **kwargs) -> dict:
        response = self.api(method, path, body, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def create_payment(self, value: str = "299.00", *, capture: bool = True, save: bool = True,
                       locale: str = "ru_RU", **extra) -> dict:
        body = {"amount": {"value": value, "currency": "RUB"}, "capture": capture, "save_payment_method": save,
                "confirmation": {"type": "embedded", "locale": locale}, "description": "Подписка «Стандарт»",
                "metadata": {"invoice_id": str(next(_invoice_numbers))}, **extra}
        return self.call("POST", "/payments", body)

    def pay(self, payment: dict, number: str = GOOD_CARD, **extra) -> requests.Response:
        body = {"confirmation_token": payment["confirmation"]["confirmation_token"], "card": card(number), **extra}
        return requests.post(f"{self.url}/widget/pay", json=body, timeout=10)

    def paid_payment(self, number: str = GOOD_CARD, **create) -> dict:
        answer = self.pay(self.create_payment(**create), number)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def charge(self, method_id: str, value: str = "299.00", *, capture: bool = True, **kwargs) -> dict:
        body = {"amount": {"value": value, "currency": "RUB"}, "capture": capture,
                "payment_method_id": method_id, "metadata": {"invoice_id": str(next(_invoice_numbers))}}
        return self.call("POST", "/payments", body, **kwargs)

    def session(self, payment: dict) -> dict:
        """What the widget reads before it shows the card form (widget/session)."""
        answer = requests.get(f"{self.url}/widget/session", timeout=5,
                              params={"confirmation_token": payment["confirmation"]["confirmation_token"]})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def control(self, path: str = "", body=None, method: str = "POST") -> dict:
        response = requests.request(method, f"{self.url}/_control{path}", json=body, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def fault(self, operation: str, fault: str, count=1, latency_ms: int = 0) -> None:
        self.control("/faults", {"operation": operation, "fault": fault, "count": count, "latency_ms": latency_ms})

    def deliveries(self, **filters) -> list[dict]:
        return requests.get(f"{self.url}/_control/notifications", params=filters, timeout=5).json()


def webhooks(merchant, count: int = 1, wait: float = 3.0, object_id: str | None = None) -> list[dict]:
    """The notifications the merchant received (parsed JSON bodies, with the sender's address)."""
    deadline = time.monotonic() + wait
    while True:
        rows = [dict(r, json=json.loads(r["body"])) for r in merchant.received("yookassa", count=0, wait=0)]
        if object_id is not None:
            rows = [r for r in rows if r["json"]["object"]["id"] == object_id]
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.02)


def yookassa_app(merchant_url: str, **extra):
    return create_app({
        "YOOKASSA_SHOP_ID": SHOP_ID, "YOOKASSA_SECRET_KEY": SECRET_KEY, "SANDBOX_MERCHANT_URL": merchant_url,
        "SANDBOX_NOTIFY_SCHEDULE": "0.2,0.3,0.5", "SANDBOX_NOTIFY_TIMEOUT": 2, **extra,
    })


@pytest.fixture(scope="session")
def yookassa_server(merchant_server):
    app = yookassa_app(merchant_server.url)
    server = serve(app)
    yield YooKassaClient(f"http://127.0.0.1:{server.server_port}", app)
    server.shutdown()
    server.server_close()
    app.extensions["yookassa_sandbox"].shutdown()


@pytest.fixture
def yookassa(yookassa_server, merchant):
    """The running emulator, reset to its start-up settings with empty storage."""
    requests.post(f"{yookassa_server.url}/_control/reset", timeout=5).raise_for_status()
    yield yookassa_server
    requests.post(f"{yookassa_server.url}/_control/reset", timeout=5).raise_for_status()
