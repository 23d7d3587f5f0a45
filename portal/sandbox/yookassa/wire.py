"""YooKassa wire formats: object ids, amounts as strings, ISO times with milliseconds, error bodies."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

CURRENCIES = ("RUB", "USD", "EUR")
MAX_AMOUNT = 10**11  # minor units: a billion roubles; nothing a subscription sends, never an overflow


class ApiError(Exception):
    """A request the API refuses: the HTTP status and the error body's code, description, parameter."""

    def __init__(self, status: int, code: str, description: str, parameter: str | None = None):
        super().__init__(description)
        self.status, self.code, self.description, self.parameter = status, code, description, parameter

    def body(self) -> dict:
        return error_body(self.code, self.description, self.parameter)


def error_body(code: str, description: str, parameter: str | None = None, **extra) -> dict:
    body = {"type": "error", "id": new_id(), "code": code, "description": description}
    if parameter:
        body["parameter"] = parameter
    body.update(extra)
    return body


def invalid(description: str, parameter: str | None = None) -> ApiError:
    return ApiError(400, "invalid_request", description, parameter)


def not_found(description: str = "Object not found", parameter: str | None = None) -> ApiError:
    return ApiError(404, "not_found", description, parameter)


def new_id() -> str:
    """A 36-character id shaped like the provider's (`2f3c8a1e-000f-5000-8000-1a2b3c4d5e6f`)."""
    return f"{secrets.token_hex(4)}-000f-5000-{secrets.choice('89ab')}000-{secrets.token_hex(6)}"


def iso_time(moment: datetime | None) -> str | None:
    """`2024-05-01T10:00:00.000Z`: UTC with milliseconds."""
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(raw: str) -> datetime:
    """An ISO 8601 filter value (`…Z`, with or without milliseconds or an offset)."""
    text = raw.strip().replace("Z", "+00:00").replace("z", "+00:00")
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def amount_json(minor: int, currency: str) -> dict:
    return {"value": money_text(minor), "currency": currency}


def money_text(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def parse_amount(raw, parameter: str = "amount") -> tuple[int, str]:
    """`{"value": "299.00" | 299 | 299.0, "currency": "RUB"}` → (minor units, currency)."""
    if not isinstance(raw, dict):
        raise invalid(f"Parameter {parameter} is required: an object with value and currency", parameter)
    currency = raw.get("currency")
    if not isinstance(currency, str) or currency.upper() not in CURRENCIES:
        raise invalid(f"Invalid {parameter}.currency", f"{parameter}.currency")
    value = raw.get("value")
    if isinstance(value, bool) or value is None:
        raise invalid(f"Invalid {parameter}.value", f"{parameter}.value")
    try:
        major = Decimal(str(value).strip())
    except InvalidOperation:
        raise invalid(f"Invalid {parameter}.value", f"{parameter}.value") from None
    minor = major * 100
    if not major.is_finite() or minor != minor.to_integral_value() or not 0 < minor <= MAX_AMOUNT:
        raise invalid(f"Invalid {parameter}.value: positive, two decimals at most, up to 1000000000.00",
                      f"{parameter}.value")
    return int(minor), currency.upper()


def parse_quantity(raw) -> Decimal:
    """Receipt item quantity: a number or a numeric string (the SDK sends "1.0")."""
    try:
        quantity = Decimal(str(raw).strip())
    except InvalidOperation:
        raise invalid("Invalid receipt item quantity", "receipt.items.quantity") from None
    if not quantity.is_finite() or quantity <= 0:
        raise invalid("Invalid receipt item quantity", "receipt.items.quantity")
    return quantity


def metadata(raw) -> dict | None:
    """At most 16 keys of ≤ 32 characters, values ≤ 512 characters; scalars are kept as strings."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or len(raw) > 16:
        raise invalid("metadata must be an object with at most 16 keys", "metadata")
    clean = {}
    for key, value in raw.items():
        if isinstance(value, (dict, list)):
            raise invalid(f"metadata.{key} must be a string", "metadata")
        text = "" if value is None else (str(value).lower() if isinstance(value, bool) else str(value))
        if not 0 < len(str(key)) <= 32 or len(text) > 512:
            raise invalid("metadata keys are at most 32 characters, values at most 512", "metadata")
        clean[str(key)] = text
    return clean


def text_field(body: dict, key: str, limit: int) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise invalid(f"{key} must be a string of at most {limit} characters", key)
    return value


def flag(body: dict, key: str, default: bool) -> bool:
    value = body.get(key, default)
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise invalid(f"{key} must be true or false", key)
    return value
