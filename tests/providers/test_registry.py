"""Choosing the provider from config, and adding another provider without touching billing."""
import pytest
from flask import Flask

from portal.providers import (
    CloudPaymentsProvider,
    PaymentProvider,
    ProviderError,
    get_provider,
    provider_from_config,
    register,
    registry,
)

LIVE = {
    "PAYMENT_PROVIDER": "cloudpayments",
    "CLOUDPAYMENTS_PUBLIC_ID": "pk_live_1",
    "CLOUDPAYMENTS_API_SECRET": "live-secret-value",
    "CLOUDPAYMENTS_API_URL": "https://api.cloudpayments.ru",
    "CLOUDPAYMENTS_WIDGET_URL": "https://widget.cloudpayments.ru/bundles/cloudpayments.js",
}


def test_cloudpayments_is_built_from_its_settings():
    provider = provider_from_config(LIVE)
    assert isinstance(provider, CloudPaymentsProvider)
    assert (provider.name, provider.public_id) == ("cloudpayments", "pk_live_1")
    assert provider.api_url == "https://api.cloudpayments.ru"
    assert provider.widget_script_url == "https://widget.cloudpayments.ru/bundles/cloudpayments.js"


@pytest.mark.parametrize(
    "sandbox_url", ["http://127.0.0.1:8001", "http://127.0.0.1:8000/sandbox/cloudpayments/"]
)
def test_sandbox_is_cloudpayments_pointed_at_the_emulator(sandbox_url):
    provider = provider_from_config({"PAYMENT_PROVIDER": "sandbox", "SANDBOX_URL": sandbox_url})
    base = sandbox_url.rstrip("/")
    assert isinstance(provider, CloudPaymentsProvider)
    assert provider.api_url == base
    assert provider.widget_script_url == f"{base}/widget.js"
    assert provider.public_id == "pk_sandbox"


@pytest.mark.parametrize(
    ("config", "missing"),
    [
        ({}, "PAYMENT_PROVIDER"),
        ({**LIVE, "PAYMENT_PROVIDER": ""}, "PAYMENT_PROVIDER"),
        ({k: v for k, v in LIVE.items() if k != "CLOUDPAYMENTS_PUBLIC_ID"}, "CLOUDPAYMENTS_PUBLIC_ID"),
        ({**LIVE, "CLOUDPAYMENTS_API_SECRET": None}, "CLOUDPAYMENTS_API_SECRET"),
        ({**LIVE, "CLOUDPAYMENTS_API_SECRET": " "}, "CLOUDPAYMENTS_API_SECRET"),
        ({"PAYMENT_PROVIDER": "sandbox"}, "SANDBOX_URL"),
    ],
)
def test_missing_setting_is_named_in_a_provider_error(config, missing):
    with pytest.raises(ProviderError, match=missing):
        provider_from_config(config)


def test_unknown_provider_name_lists_the_known_ones():
    with pytest.raises(ProviderError, match="cloudpayments"):
        provider_from_config({**LIVE, "PAYMENT_PROVIDER": "paypal"})


def test_api_secret_never_shows_in_repr():
    assert "live-secret-value" not in repr(provider_from_config(LIVE))


class WidgetProviderForTests(PaymentProvider):
    """A second widget-scheme provider: only what the registry needs, the rest is not exercised."""

    name = "another"
    widget_script_url = "https://pay.example/widget.js"

    def __init__(self, merchant_id):
        self.merchant_id = merchant_id

    @classmethod
    def from_config(cls, config):
        return cls(registry.required_setting(config, "ANOTHER_MERCHANT_ID"))

    def widget_params(self, req):
        return {"merchant": self.merchant_id, "amount": req.amount_minor}

    verify_notification = parse_notification = charge_token = authorize_token = None
    confirm = void = refund = find_by_invoice = get_transaction = answer = None


@pytest.fixture
def clean_registry(monkeypatch):
    monkeypatch.setattr(registry, "_factories", dict(registry._factories))


def test_another_provider_is_added_by_registering_its_class(clean_registry):
    register("another", WidgetProviderForTests)
    provider = provider_from_config({"PAYMENT_PROVIDER": "another", "ANOTHER_MERCHANT_ID": "m-1"})
    assert isinstance(provider, WidgetProviderForTests)
    assert provider.merchant_id == "m-1"
    assert "another" in registry.registered_names()


def test_a_plain_factory_function_registers_too(clean_registry):
    register("Factory", lambda config: WidgetProviderForTests(config["ANOTHER_MERCHANT_ID"]))
    provider = provider_from_config({"PAYMENT_PROVIDER": "factory", "ANOTHER_MERCHANT_ID": "m-2"})
    assert provider.merchant_id == "m-2"


def make_app(**config):
    app = Flask(__name__)
    app.config.update(config)
    return app


def test_get_provider_builds_one_instance_per_app():
    first_app = make_app(PAYMENT_PROVIDER="sandbox", SANDBOX_URL="http://127.0.0.1:8001")
    second_app = make_app(PAYMENT_PROVIDER="sandbox", SANDBOX_URL="http://127.0.0.1:8002")

    with first_app.app_context():
        provider = get_provider()
        assert get_provider() is provider
    with first_app.app_context():
        assert get_provider() is provider
    assert first_app.extensions["payment_provider"] is provider

    with second_app.app_context():
        assert get_provider() is not provider
        assert get_provider().api_url == "http://127.0.0.1:8002"


def test_get_provider_uses_an_instance_placed_in_extensions():
    app = make_app()
    placed = provider_from_config(LIVE)
    app.extensions["payment_provider"] = placed
    with app.app_context():
        assert get_provider() is placed


def test_get_provider_reports_a_missing_setting():
    app = make_app(PAYMENT_PROVIDER="cloudpayments")
    with app.app_context(), pytest.raises(ProviderError, match="CLOUDPAYMENTS_PUBLIC_ID"):
        get_provider()
