"""Provider registry: builds the configured PaymentProvider by name and keeps one per Flask app."""
from __future__ import annotations

from collections.abc import Callable, Mapping

from flask import current_app

from portal.providers.base import PaymentProvider, ProviderError

ProviderFactory = Callable[[Mapping], PaymentProvider]

EXTENSION_KEY = "payment_provider"

_factories: dict[str, ProviderFactory] = {}


def register(name: str, factory: ProviderFactory | type[PaymentProvider]) -> None:
    """Make a provider selectable as PAYMENT_PROVIDER=name.

    `factory` is a callable taking the config mapping, or a PaymentProvider class with a
    `from_config(config)` classmethod, so a new provider is one module and one register() call."""
    _factories[name.lower()] = getattr(factory, "from_config", factory)


def registered_names() -> list[str]:
    return sorted(_factories)


def provider_from_config(config: Mapping) -> PaymentProvider:
    """The provider named by PAYMENT_PROVIDER, built from the rest of `config`."""
    name = required_setting(config, "PAYMENT_PROVIDER").lower()
    factory = _factories.get(name)
    if factory is None:
        raise ProviderError(
            f"PAYMENT_PROVIDER={name!r} is not a known payment provider "
            f"(known: {', '.join(registered_names())})"
        )
    return factory(config)


def get_provider() -> PaymentProvider:
    """The current app's provider, built on first use and cached in app.extensions."""
    app = current_app._get_current_object()
    provider = app.extensions.get(EXTENSION_KEY)
    if provider is None:
        # Two threads may both build one on first use; the loser's instance is simply dropped.
        provider = app.extensions.setdefault(EXTENSION_KEY, provider_from_config(app.config))
    return provider


def required_setting(config: Mapping, key: str) -> str:
    """A config value that must be set; empty counts as missing because env vars are often set empty."""
    value = config.get(key)
    if value is None or str(value).strip() == "":
        raise ProviderError(f"payment provider configuration: {key} is not set")
    return str(value).strip()
