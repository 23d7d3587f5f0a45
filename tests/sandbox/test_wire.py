"""Wire helpers on their own: the provider's form escaping and amount parsing."""

from urllib.parse import parse_qsl

import pytest

from portal.sandbox import wire


@pytest.mark.parametrize("text, escaped", [
    ("Оплата подписки", "%d0%9e%d0%bf%d0%bb%d0%b0%d1%82%d0%b0+%d0%bf%d0%be%d0%b4%d0%bf%d0%b8%d1%81%d0%ba%d0%b8"),
    ("a b&c=d", "a+b%26c%3dd"),
    ('{"plan":"monthly"}', "%7b%22plan%22%3a%22monthly%22%7d"),
    ("2024-01-31 23:59:00", "2024-01-31+23%3a59%3a00"),
    ("safe-_.!*()", "safe-_.!*()"),
    ("~/+", "%7e%2f%2b"),
])
def test_form_escape_matches_the_providers_lowercase_encoding(text, escaped):
    assert wire.form_escape(text) == escaped


def test_form_encode_round_trips_through_the_standard_parser():
    fields = [("Description", "Подписка на месяц"), ("Data", '{"a":"б c"}'), ("Empty", "")]
    assert parse_qsl(wire.form_encode(fields), keep_blank_values=True) == fields


@pytest.mark.parametrize("value, minor", [(299, 29900), (299.0, 29900), ("299.00", 29900), ("19,99", 1999),
                                          (19.99, 1999), ("0.01", 1)])
def test_amounts_become_minor_units(value, minor):
    assert wire.parse_amount(value) == minor


@pytest.mark.parametrize("value", [0, -1, "1.001", "", None, "x", True, float("nan")])
def test_bad_amounts_are_refused(value):
    with pytest.raises(wire.AmountError):
        wire.parse_amount(value)


def test_amount_formats():
    assert (wire.form_amount(29900), wire.json_amount(29900)) == ("299.00", 299.0)
    assert (wire.form_amount(5), wire.json_amount(1999)) == ("0.05", 19.99)
