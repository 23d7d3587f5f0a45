"""Money for people (portal/money.py): minor units shown in the currency's own digits, per language."""
from decimal import Decimal

import pytest

from portal.money import format_money, to_major


@pytest.mark.parametrize("amount,currency,major", [
    (29900, "RUB", Decimal("299.00")), (29950, "RUB", Decimal("299.50")), (1, "RUB", Decimal("0.01")),
    (500, "JPY", Decimal("500")),  # the yen has no minor unit
])
def test_minor_units_become_the_major_amount_exactly(amount, currency, major):
    assert to_major(amount, currency) == major


@pytest.mark.parametrize("amount,currency,locale,shown", [
    (29900, "RUB", "ru", "299,00\xa0₽"),
    (123456, "RUB", "ru", "1\xa0234,56\xa0₽"),
    (29900, "RUB", "en", "RUB 299.00"),
    (123456789, "RUB", "en", "RUB 1,234,567.89"),
    (29900, "RUB", "en_GB", "RUB 299.00"),
    # English keeps the currency's own digits: no kopecks for a currency without them.
    (100, "JPY", "en", "JPY 100"),
])
def test_amounts_are_shown_in_the_readers_language(amount, currency, locale, shown):
    assert format_money(amount, currency, locale) == shown
