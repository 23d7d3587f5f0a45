"""Fixtures for the sandbox: the emulator served over real HTTP and a real merchant endpoint."""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest
import requests
from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server

from portal.sandbox import create_app

PUBLIC_ID = "pk_sandbox_tests"
API_SECRET = "sandbox-tests-secret"

_invoice_numbers = itertools.count(int(time.time()) % 100_000 * 1000)


class Merchant:
    """A real HTTP server playing the portal's webhooks: records every request, answers as told."""

    def __init__(self):
        self._lock = threading.Lock()
        self.requests: list[dict] = []
        self.check_code = 0
        self.failures: dict[str, int] = {}  # kind -> how many more answers are HTTP 500
        self.delays: dict[str, float] = {}  # kind -> seconds to stall before answering
        merchant = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                kind = self.path.rstrip("/").rsplit("/", 1)[-1].lower()
                with merchant._lock:
                    merchant.requests.append(
                        {"kind": kind, "path": self.path, "headers": dict(self.headers.items()), "body": body,
                         "client": self.client_address[0]})
                    failing = merchant.failures.get(kind, 0) > 0
                    if failing:
                        merchant.failures[kind] -= 1
                    delay = merchant.delays.get(kind, 0.0)
                    code = merchant.check_code if kind == "check" else 0
                if delay:
                    time.sleep(delay)
                status, answer = (500, b"oops") if failing else (200, json.dumps({"code": code}).encode())
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.check_code = 0
            self.failures.clear()
            self.delays.clear()

    def received(self, kind: str, *, invoice_id=None, count: int = 1, wait: float = 3.0) -> list[dict]:
        """Requests of one kind (optionally for one invoice), waiting up to `wait` for `count` of them.

        Each carries `fields`, decoded with the standard library only."""
        deadline = time.monotonic() + wait
        while True:
            with self._lock:
                rows = [dict(r) for r in self.requests if r["kind"] == kind]
            for row in rows:
                row["fields"] = dict(parse_qsl(row["body"].decode("utf-8"), keep_blank_values=True))
            if invoice_id is not None:
                rows = [r for r in rows if r["fields"].get("InvoiceId") == str(invoice_id)]
            if len(rows) >= count or time.monotonic() > deadline:
                return rows
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class SandboxClient:
    """Talks to the running emulator over HTTP as the portal, a browser and a test operator would."""

    def __init__(self, url: str, app):
        self.url = url
        self.app = app
        self.public_id = PUBLIC_ID
        self.secret = API_SECRET

    def api(self, endpoint: str, json_body=None, *, data=None, headers=None, auth=True, timeout=10):
        return requests.post(f"{self.url}/{endpoint}", json=json_body, data=data, headers=headers,
                             auth=(PUBLIC_ID, API_SECRET) if auth is True else auth, timeout=timeout)

    def call(self, endpoint: str, json_body=None, **kwargs) -> dict:
        response = self.api(endpoint, json_body, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def control(self, **switches) -> dict:
        response = requests.post(f"{self.url}/control", json=switches, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    def stats(self) -> dict:
        return requests.get(f"{self.url}/stats", timeout=5).json()

    def notifications(self, **filters) -> list[dict]:
        return requests.get(f"{self.url}/notifications", params=filters, timeout=5).json()

    def widget_pay(self, card: str, *, invoice_id=None, amount=299.0, kind="charge", **options) -> dict:
        body = {
            "publicId": PUBLIC_ID, "type": kind, "amount": amount, "currency": "RUB",
            "invoiceId": invoice_id if invoice_id is not None else next_invoice_id(),
            "accountId": "user-1", "email": "viewer@example.com", "description": "Подписка на месяц",
            "data": {"plan": "monthly"}, "cardNumber": card, "expDate": "12/30", "cvv": "123",
            **options,
        }
        return requests.post(f"{self.url}/widget/pay", json=body, timeout=10).json()

    def saved_token(self, card: str, account_id: str = "user-1") -> str:
        outcome = self.widget_pay(card, accountId=account_id)
        assert outcome["Success"], outcome
        return outcome["Token"]

    def charge(self, token: str, *, invoice_id=None, amount=299.0, endpoint="payments/tokens/charge",
               headers=None, **extra) -> dict:
        body = {"Amount": amount, "Currency": "RUB", "AccountId": "user-1", "Token": token,
                "TrInitiatorCode": 0, "InvoiceId": str(invoice_id or next_invoice_id()), **extra}
        return self.call(endpoint, body, headers=headers)


def next_invoice_id() -> int:
    return next(_invoice_numbers)


def serve(app):
    """Serve a WSGI app the way production does (threaded werkzeug) on a free port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="session")
def merchant_server():
    merchant = Merchant()
    yield merchant
    merchant.stop()


@pytest.fixture(scope="session")
def sandbox_server(merchant_server):
    app = create_app({
        "TESTING": True,
        "CLOUDPAYMENTS_PUBLIC_ID": PUBLIC_ID,
        "CLOUDPAYMENTS_API_SECRET": API_SECRET,
        "SANDBOX_MERCHANT_URL": merchant_server.url,
        "SANDBOX_NOTIFY_SCHEDULE": "0.2,0.3,0.5",
        "SANDBOX_NOTIFY_TIMEOUT": 2,
        "SANDBOX_TIMEOUT_SECONDS": 1.5,
    })
    server = serve(app)
    yield SandboxClient(f"http://127.0.0.1:{server.server_port}", app)
    server.shutdown()
    server.server_close()
    app.extensions["cloudpayments_sandbox"].shutdown()


@pytest.fixture
def merchant(merchant_server):
    merchant_server.clear()
    yield merchant_server
    merchant_server.clear()


@pytest.fixture
def sandbox(sandbox_server, merchant):
    """The running emulator, reset to its start-up settings with empty storage."""
    requests.post(f"{sandbox_server.url}/control/reset", timeout=5).raise_for_status()
    yield sandbox_server
    # A call a test left hanging (timeout_next) must answer before the next test counts answers.
    deadline = time.monotonic() + 5
    while sandbox_server.stats()["in_flight"] > 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    requests.post(f"{sandbox_server.url}/control/reset", timeout=5).raise_for_status()


@pytest.fixture
def invoice_id() -> int:
    return next_invoice_id()


@pytest.fixture
def new_invoice_id():
    """A maker of fresh invoice ids, for tests that need several."""
    return next_invoice_id


@pytest.fixture(scope="module")
def mounted_sandbox():
    """A second emulator mounted under /sandbox/cloudpayments of a host app, as the portal mounts it."""
    app = create_app({"CLOUDPAYMENTS_PUBLIC_ID": PUBLIC_ID, "CLOUDPAYMENTS_API_SECRET": API_SECRET,
                      "SANDBOX_MERCHANT_URL": "http://127.0.0.1:9"})
    server = serve(DispatcherMiddleware(Flask("host"), {"/sandbox/cloudpayments": app}))
    yield SandboxClient(f"http://127.0.0.1:{server.server_port}", app)
    server.shutdown()
    server.server_close()
    app.extensions["cloudpayments_sandbox"].shutdown()
