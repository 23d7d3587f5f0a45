"""Provider registry: builds the enabled PaymentProviders by name and keeps them per Flask app.

Several providers can be enabled at once (PAYMENT_PROVIDERS=cloudpayments,yookassa). Every payment,
saved card and refund records the name of the provider it belongs to, and `get_provider(name)` finds
that provider again for its follow-ups (refund, void, renewal charge)."""
from __future__ import annotations

from collections.abc import Callable, Mapping

from flask import current_app

from portal.providers.base import PaymentProvider, ProviderError

ProviderFactory = Callable[[Mapping], PaymentProvider]

# The first enabled provider (and the default of every currency staff have not chosen one for).
EXTENSION_KEY = "payment_provider"
# Every enabled provider by its name.
ALL_KEY = "payment_providers"

_factories: dict[str, ProviderFactory] = {}
_classes: dict[str, type[PaymentProvider]] = {}


def register(name: str, factory: ProviderFactory | type[PaymentProvider],
             adapter: type[PaymentProvider] | None = None) -> None:
    """Make a provider selectable as PAYMENT_PROVIDERS=name.

    `factory` is a callable taking the config mapping, or a PaymentProvider class with a
    `from_config(config)` classmethod, so a new provider is one module and one register() call.
    `adapter` (the class, when `factory` is a function) answers questions that need no configuration,
    such as the customer's message for a decline it recorded."""
    _factories[name.lower()] = getattr(factory, "from_config", factory)
    adapter = adapter or (factory if isinstance(factory, type) else None)
    if adapter is not None:
        _classes[adapter.name] = adapter


def registered_names() -> list[str]:
    return sorted(_factories)


def adapter_class(name: str | None) -> type[PaymentProvider]:
    """The adapter class of a stored provider name (payments keep the name they were made by)."""
    adapter = _classes.get(name or "")
    return adapter if adapter is not None else PaymentProvider


def enabled_names(config: Mapping) -> list[str]:
    """PAYMENT_PROVIDERS (comma-separated), or the single PAYMENT_PROVIDER, in their order."""
    listed = [n.strip().lower() for n in str(config.get("PAYMENT_PROVIDERS") or "").split(",") if n.strip()]
    return listed or [required_setting(config, "PAYMENT_PROVIDER").lower()]


def provider_from_config(config: Mapping, name: str | None = None) -> PaymentProvider:
    """The provider registered as `name` (default: PAYMENT_PROVIDER), built from the rest of `config`."""
    name = (name or required_setting(config, "PAYMENT_PROVIDER")).lower()
    factory = _factories.get(name)
    if factory is None:
        raise ProviderError(
            f"payment provider {name!r} is not a known payment provider "
            f"(known: {', '.join(registered_names())}); PAYMENT_PROVIDER={name!r}"
        )
    return factory(config)


def providers_from_config(config: Mapping) -> dict[str, PaymentProvider]:
    """Every enabled provider, by its own name, the first first."""
    providers: dict[str, PaymentProvider] = {}
    for entry in enabled_names(config):
        provider = provider_from_config(config, entry)
        providers.setdefault(provider.name, provider)
    return providers


def enabled_providers() -> dict[str, PaymentProvider]:
    """The current app's enabled providers, built on first use and cached in app.extensions."""
    app = current_app._get_current_object()
    placed = app.extensions.get(EXTENSION_KEY)
    providers = app.extensions.get(ALL_KEY)
    if providers is not None and placed is not None and placed is providers.get(placed.name):
        return providers
    # Built anew when the default was dropped (a test that changed a setting) or placed by hand.
    if placed is not None and not app.config.get("PAYMENT_PROVIDERS"):
        providers = {placed.name: placed}
    else:
        providers = providers_from_config(app.config)
        placed = app.extensions.setdefault(EXTENSION_KEY, next(iter(providers.values())))
        providers = {**providers, placed.name: placed}
    app.extensions[ALL_KEY] = providers
    return providers


def get_provider(name: str | None = None) -> PaymentProvider:
    """The enabled provider of that name; without one, the first enabled provider. A name that is not
    enabled (a payment made by a provider since switched off) is a ProviderError naming it."""
    app = current_app._get_current_object()
    if name is None:
        provider = app.extensions.get(EXTENSION_KEY)
        if provider is None:
            enabled_providers()
            provider = app.extensions[EXTENSION_KEY]
        return provider
    provider = enabled_providers().get(name)
    if provider is None:
        default = get_provider()
        if default.name == name:
            return default
        raise ProviderError(f"payment provider {name!r} is not enabled (PAYMENT_PROVIDERS)")
    return provider


def forget_providers(app) -> None:
    """Drop the app's built providers (a test that changed their settings builds them anew)."""
    app.extensions.pop(EXTENSION_KEY, None)
    app.extensions.pop(ALL_KEY, None)


def required_setting(config: Mapping, key: str) -> str:
    """A config value that must be set; empty counts as missing because env vars are often set empty."""
    value = config.get(key)
    if value is None or str(value).strip() == "":
        raise ProviderError(f"payment provider configuration: {key} is not set")
    return str(value).strip()
