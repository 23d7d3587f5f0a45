"""CloudPayments wire values (amounts, dates, flags) and the API transaction Model, as billing types."""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal

from portal.providers import reason_codes
from portal.providers.base import CardSaved, Transaction

# CloudPayments writes every amount in major units with two decimals, whatever the currency.
MINOR_PER_MAJOR = 100

# Amount columns are 32-bit integers; anything above is no amount of ours (and would poison the row).
MAX_AMOUNT_MINOR = 2**31 - 1

_DOTNET_DATE = re.compile(r"^/Date\((-?\d+)(?:[+-]\d{4})?\)/$", re.ASCII)
# [0-9], not \d: \d also matches full-width and other scripts' digits.
_AMOUNT = re.compile(r"([0-9]{1,10})(?:\.([0-9]{1,2}))?")
_SMALL_INTEGER = re.compile(r"[0-9]{1,9}")
_TRANSACTION_ID = re.compile(r"[0-9]{1,19}")


class Fields:
    """Read-only view of provider fields matched case-insensitively, with "" meaning absent."""

    def __init__(self, fields: Mapping[str, object]):
        self._fields = {str(key).lower(): value for key, value in fields.items()}

    def get(self, *names: str) -> object | None:
        """The first of `names` that is present and not empty."""
        for name in names:
            value = self._fields.get(name.lower())
            if value is not None and value != "":
                return value
        return None

    def text(self, *names: str) -> str | None:
        value = self.get(*names)
        return None if value is None else str(value)

    def integer(self, *names: str) -> int | None:
        """A small whole number (ReasonCode): ASCII digits only, at most nine of them."""
        value = self.get(*names)
        if value is None:
            return None
        if isinstance(value, bool) or not _SMALL_INTEGER.fullmatch(str(value)):
            raise ValueError(f"{names[0]} is not a whole number of at most 9 digits")
        return int(str(value))

    def matching(self, pattern: re.Pattern, *names: str) -> str | None:
        """The value when it has the form `pattern` describes; otherwise None (a display-only field the
        columns could not hold: the raw body still keeps it)."""
        value = self.text(*names)
        return value if value is not None and pattern.fullmatch(value) else None

    def key(self, *names: str) -> str | None:
        """A provider transaction id: an integer (up to int64) kept whole as its digits."""
        value = self.text(*names)
        if value is None:
            return None
        if not _TRANSACTION_ID.fullmatch(value) or int(value) >= 2**63:
            raise ValueError(f"{names[0]} is not a transaction id (an integer below 2^63)")
        return value

    def flag(self, *names: str) -> bool:
        """0/1 (or a JSON boolean) → bool; absent is False."""
        value = self.get(*names)
        if value is None or isinstance(value, bool):
            return bool(value)
        return str(value).strip().lower() in ("1", "true")

    def lower(self, *names: str) -> str | None:
        value = self.text(*names)
        return value.lower() if value is not None else None


def to_minor(value: object) -> int:
    """Major-unit amount ("299.00", 299.0, 299) → integer minor units, exactly.

    Strict: ASCII digits with at most two fraction digits and nothing around them ("1e3", "1_000",
    full-width digits, " 299.00" and "-1.00" are refused), and at most MAX_AMOUNT_MINOR."""
    if isinstance(value, bool):
        raise ValueError(f"not an amount: {value!r}")
    # A JSON float is read through its shortest repr ("0.1", not 0.1000000000000000055…), which is
    # exactly the literal the provider wrote for any amount with two decimals.
    text = repr(value) if isinstance(value, float) else str(value)
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise ValueError(f"not an amount with at most two decimals: {text[:40]!r}")
    whole, fraction = match.group(1), (match.group(2) or "").ljust(2, "0")
    minor = int(whole) * MINOR_PER_MAJOR + int(fraction)
    if minor > MAX_AMOUNT_MINOR:
        raise ValueError(f"amount over {MAX_AMOUNT_MINOR} minor units: {text[:40]!r}")
    return minor


def to_major(amount_minor: int) -> float:
    """Integer minor units → the JSON number the API expects (299.0, 0.1).

    A float is exact enough here: every amount with two decimals below 10**13 round-trips through
    the float's shortest repr, which is what json.dumps writes."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise TypeError("amounts are integer minor units")
    return float(Decimal(amount_minor) / MINOR_PER_MAJOR)


def parse_datetime(value: object) -> datetime | None:
    """"yyyy-MM-dd HH:mm:ss", ISO 8601 or "/Date(ms)/" → aware UTC; naive values are UTC by contract."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    try:
        dotnet = _DOTNET_DATE.match(text)
        if dotnet:
            return datetime.fromtimestamp(int(dotnet.group(1)) / 1000, tz=timezone.utc)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            return moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc)
    except (OverflowError, OSError):  # a moment beyond what a datetime (or the platform's clock) can hold
        raise ValueError(f"not a date and time we can hold: {text[:40]!r}") from None


def parse_transaction(model: Mapping[str, object]) -> Transaction:
    """The API's transaction Model → Transaction; raises ValueError when it is not one."""
    fields = Fields(model)
    transaction_id = fields.text("TransactionId")
    amount = fields.get("Amount")
    if transaction_id is None or amount is None:
        raise ValueError("transaction model without TransactionId or Amount")
    created_at = parse_datetime(fields.get("CreatedDateIso")) or parse_datetime(
        fields.get("CreatedDate")
    )
    status, token, reason_code = fields.lower("Status") or "unknown", fields.text("Token"), fields.integer("ReasonCode")
    return Transaction(
        transaction_id=transaction_id,
        status=status,
        amount_minor=to_minor(amount),
        currency=fields.text("Currency") or "RUB",
        invoice_id=fields.text("InvoiceId"),
        account_id=fields.text("AccountId"),
        email=fields.text("Email"),
        token=token,
        card_first_six=fields.text("CardFirstSix"),
        card_last_four=fields.text("CardLastFour"),
        card_type=fields.text("CardType"),
        card_exp=fields.text("CardExpDate"),
        card_issuer=fields.text("Issuer"),
        reason_code=reason_code,
        reason=fields.text("Reason"),
        card_holder_message=fields.text("CardHolderMessage"),
        test_mode=fields.flag("TestMode"),
        created_at=created_at,
        raw=dict(model),
        provider="cloudpayments",
        decline=reason_codes.decline(reason_code, fields.text("Reason"), fields.text("CardHolderMessage"))
        if status == "declined" else None,
        card=CardSaved(token, first_six=fields.text("CardFirstSix"), last_four=fields.text("CardLastFour"),
                       exp=fields.text("CardExpDate"), card_type=fields.text("CardType"),
                       issuer=fields.text("Issuer")) if token else None,
    )


def looks_like_transaction(model: object) -> bool:
    """Whether an envelope's Model is a transaction (a decline carries one even with Success false)."""
    if not isinstance(model, Mapping):
        return False
    fields = Fields(model)
    return fields.get("TransactionId") is not None and fields.get("Amount") is not None
