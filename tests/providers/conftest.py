"""Fixtures for the provider layer: a real sandbox server, a real merchant endpoint, a provider."""
from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
from werkzeug.serving import make_server

from portal.providers import CloudPaymentsProvider
from tests.providers.support import (
    API_SECRET,
    CARD_SUCCESS,
    PUBLIC_ID,
    MerchantEndpoint,
    Sandbox,
    next_invoice_id,
)


@pytest.fixture(scope="session")
def merchant():
    endpoint = MerchantEndpoint()
    endpoint.start()
    yield endpoint
    endpoint.stop()


@pytest.fixture(scope="session")
def sandbox_url(merchant):
    sandbox_package = pytest.importorskip("portal.sandbox", reason="the sandbox emulator is not there yet")
    if not hasattr(sandbox_package, "create_app"):
        pytest.skip("the sandbox emulator has no create_app yet")
    app = sandbox_package.create_app(
        {
            "TESTING": True,
            "CLOUDPAYMENTS_PUBLIC_ID": PUBLIC_ID,
            "CLOUDPAYMENTS_API_SECRET": API_SECRET,
            "SANDBOX_MERCHANT_URL": merchant.url,
            # A timeout_next call hangs this long; short, so abandoned requests do not pile up.
            "SANDBOX_TIMEOUT_SECONDS": 2,
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def sandbox(sandbox_url):
    sandbox = Sandbox(sandbox_url)
    sandbox.reset()
    yield sandbox
    sandbox.reset()


@pytest.fixture
def provider(sandbox):
    return CloudPaymentsProvider(PUBLIC_ID, API_SECRET, api_url=sandbox.url, timeout=(2, 10))


@pytest.fixture
def saved_card(sandbox, merchant, provider):
    """Pay a first invoice through the widget and return the card token the Pay notification carries."""

    def save(card: str = CARD_SUCCESS) -> str:
        invoice_id = next_invoice_id()
        sandbox.pay_with_widget(provider, card, invoice_id=invoice_id)
        pay = merchant.notifications(invoice_id, "pay")
        assert pay, "the sandbox sent no Pay notification for the widget payment"
        token = pay[-1]["fields"].get("Token")
        assert token, "the Pay notification carries no Token"
        return token

    return save


@pytest.fixture
def today() -> datetime:
    return datetime.now(timezone.utc)
