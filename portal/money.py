"""Money for people: integer minor units and a currency, formatted by Babel for the locale."""
from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision


def to_major(amount: int, currency: str) -> Decimal:
    return Decimal(amount).scaleb(-get_currency_precision(currency))


def format_money(amount: int, currency: str, locale: str = "ru") -> str:
    """299,00 ₽ in Russian; RUB 299.00 in English (the code reads unambiguously abroad)."""
    major = to_major(amount, currency)
    if locale.startswith("en"):
        return format_currency(major, currency, format="¤¤ #,##0.00", locale="en_US", currency_digits=True)
    return format_currency(major, currency, locale=locale)
