"""Which payment provider a checkout pays with: staff choose the default per currency among the enabled
providers (an audited setting); a currency they have not chosen for uses the first enabled provider.
Everything after the first payment goes back to the provider that made it, whatever the default is now."""
from dataclasses import dataclass

from sqlalchemy import select

from portal import clock
from portal.billing.errors import N_, InvalidRequest
from portal.extensions import db
from portal.models import Plan, ProviderDefault
from portal.providers import PaymentProvider, enabled_providers, get_provider


@dataclass(frozen=True)
class CurrencyDefault:
    currency: str
    provider: str  # the provider new checkouts in this currency use
    chosen: bool  # False: nobody chose, the first enabled provider applies


def enabled() -> list[str]:
    """The names of the enabled providers, the first (the fallback default) first."""
    return list(enabled_providers())


def default_provider(currency: str) -> PaymentProvider:
    """The provider a new checkout in `currency` pays with."""
    chosen = db.session.get(ProviderDefault, currency)
    if chosen is not None and chosen.provider in enabled_providers():
        return get_provider(chosen.provider)
    return get_provider()


def currency_defaults() -> list[CurrencyDefault]:
    """Every currency the catalogue sells in (and any with a choice), with its provider."""
    chosen = {row.currency: row.provider for row in db.session.scalars(select(ProviderDefault))}
    currencies = set(db.session.scalars(select(Plan.currency).distinct())) | set(chosen)
    enabled, first = enabled_providers(), get_provider().name
    return [CurrencyDefault(c, chosen[c] if chosen.get(c) in enabled else first, chosen.get(c) in enabled)
            for c in sorted(currencies)]


def set_default_provider(currency: str, provider: str, *, actor: str) -> str | None:
    """Make `provider` the default of `currency` (call inside a transaction); returns the one before."""
    if provider not in enabled_providers():
        raise InvalidRequest(N_("%(provider)s is not an enabled payment provider (enabled: %(enabled)s)",
                                provider=repr(provider), enabled=", ".join(enabled_providers())))
    if not (len(currency) == 3 and currency.isascii() and currency.isalpha() and currency.isupper()):
        raise InvalidRequest(N_("%(currency)s is not a currency code", currency=repr(currency[:8])))
    row = db.session.get(ProviderDefault, currency, with_for_update=True)
    before = row.provider if row is not None else None
    if row is None:
        row = ProviderDefault(currency=currency)
        db.session.add(row)
    row.provider, row.changed_by, row.changed_at = provider, actor, clock.now()
    db.session.flush()
    return before
