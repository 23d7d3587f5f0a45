"""Test support for the provider layer: a real merchant endpoint, a sandbox driver, test cards."""
from __future__ import annotations

import itertools
import json
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import requests

from portal.providers import TokenCharge, WidgetRequest

PUBLIC_ID = "pk_test_provider_layer"
API_SECRET = "provider-layer-secret"

# Test cards from shared/cloudpayments.md (no 3-DS step, so the widget pays in one call).
CARD_SUCCESS = "4000 0000 0000 3055"  # first payment and later token charges succeed
CARD_TOKEN_NSF = "4111 1111 1111 1111"  # first payment succeeds, token charges: insufficient funds

_invoice_numbers = itertools.count(int(time.time()) % 100_000 * 100)


def next_invoice_id() -> int:
    return next(_invoice_numbers)


class MerchantEndpoint:
    """A real HTTP server standing in for the portal's webhooks: answers {"code":0}, records requests."""

    def __init__(self):
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self._record(self.rfile.read(length))

            def do_GET(self):
                self._record(self.path.partition("?")[2].encode("ascii"))

            def _record(self, body: bytes):
                with endpoint._lock:
                    endpoint.requests.append(
                        {
                            "method": self.command,
                            "path": self.path.partition("?")[0],
                            "headers": dict(self.headers.items()),
                            "body": body,
                        }
                    )
                answer = b'{"code":0}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def notifications(self, invoice_id: int, kind: str, wait: float = 3.0) -> list[dict]:
        """Recorded `kind` notifications for `invoice_id`, waiting a little for late deliveries.

        Each carries its `fields`, decoded here with the standard library alone."""
        deadline = time.monotonic() + wait
        while True:
            with self._lock:
                recorded = list(self.requests)
            found = []
            for request in recorded:
                if not request["path"].rstrip("/").lower().endswith(kind):
                    continue
                fields = dict(parse_qsl(request["body"].decode("utf-8"), keep_blank_values=True))
                if fields.get("InvoiceId") == str(invoice_id):
                    found.append({**request, "fields": fields})
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


class Sandbox:
    """Drives the running emulator the way a browser and a test operator would."""

    def __init__(self, url: str):
        self.url = url

    def control(self, **switches) -> None:
        requests.post(f"{self.url}/control", json=switches, timeout=5).raise_for_status()

    def reset(self) -> None:
        requests.post(f"{self.url}/control/reset", timeout=5).raise_for_status()

    def stats(self) -> dict:
        """The emulator's counters: calls, 429s, most in flight at once."""
        return requests.get(f"{self.url}/stats", timeout=5).json()

    def reset_stats(self) -> None:
        requests.post(f"{self.url}/stats/reset", timeout=5).raise_for_status()

    def pay_with_widget(self, provider, card: str, *, invoice_id: int, amount_minor: int = 29900) -> dict:
        """Pay an invoice as the widget does, with a card typed in; returns the emulator's answer."""
        params = provider.widget_params(
            WidgetRequest(
                invoice_id=invoice_id,
                amount_minor=amount_minor,
                currency="RUB",
                account_id=f"user-{invoice_id}",
                email="viewer@example.com",
                description="Подписка на месяц",
                data={"plan": "monthly"},
            )
        )
        body = {**params, "cardNumber": card, "expDate": "12/30", "cvv": "123"}
        response = requests.post(f"{self.url}/widget/pay", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def payments_on(self, day: datetime) -> list[dict]:
        """payments/list for one UTC day, straight over HTTP (not through the code under test)."""
        response = requests.post(
            f"{self.url}/payments/list",
            json={"Date": day.strftime("%Y-%m-%d"), "TimeZone": "UTC"},
            auth=(PUBLIC_ID, API_SECRET),
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["Model"] or []


def charge_args(token: str, invoice_id: int, **overrides) -> TokenCharge:
    """The TokenCharge for charge_token/authorize_token as a renewal job would ask it."""
    args = {
        "token": token,
        "amount_minor": 29900,
        "currency": "RUB",
        "account_id": f"user-{invoice_id}",
        "invoice_id": invoice_id,
        "description": "Renewal: monthly plan",
        "email": "viewer@example.com",
        "request_id": f"invoice-{invoice_id}-attempt-1",
        "customer_present": False,
    }
    return TokenCharge(**{**args, **overrides})


def json_body(**fields) -> bytes:
    return json.dumps(fields, ensure_ascii=False).encode("utf-8")


def look_up_side_by_side(provider, calls: int) -> list:
    """`calls` lookups of invoices nobody has, all at once: each answer is None, or the HTTP status of a
    passing refusal (429 when the terminal's limit was hit)."""
    from concurrent.futures import ThreadPoolExecutor

    from portal.providers import RetryableProviderError

    def look_up(n):
        try:
            return provider.find_by_invoice(f"no-such-invoice-{n}")
        except RetryableProviderError as error:
            return error.http_status

    with ThreadPoolExecutor(calls) as pool:
        return list(pool.map(look_up, range(calls)))
