"""CloudPayments wire formats: envelopes, amounts, dates, form encoding, signatures, request keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from urllib.parse import unquote_plus

from flask import Request

# .NET's HttpUtility.UrlEncode (what the provider runs) leaves these bytes alone and
# escapes everything else with lowercase hex; Python's quote_plus differs (uppercase hex, keeps "~").
_UNRESERVED = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!*()")


def envelope(success: bool, message: str | None = None, model=None) -> dict:
    """The provider's answer shape; Success speaks of the request, not the transaction."""
    return {"Success": success, "Message": message, "Model": model}


# --- money -----------------------------------------------------------------------------------

class AmountError(ValueError):
    """An amount the provider would refuse (missing, not a number, not positive, sub-kopeck)."""


def parse_amount(value) -> int:
    """Major-unit amount from JSON or form ("299", 299.0, "299.00", "299,5") to minor units."""
    if value is None or value == "":
        raise AmountError("Amount is required")
    if isinstance(value, bool):
        raise AmountError("Amount is invalid")
    try:
        # str() first so a JSON float like 19.99 is read as written, not as its binary value.
        major = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise AmountError("Amount is invalid") from None
    if not major.is_finite():
        raise AmountError("Amount is invalid")
    minor = major * 100
    if minor != minor.to_integral_value():
        raise AmountError("Amount has more than two decimal places")
    if minor <= 0:
        raise AmountError("Amount must be greater than zero")
    return int(minor)


def json_amount(minor: int) -> float:
    """Amount as the API's JSON number in major units (299.0)."""
    return float(Decimal(minor) / 100)


def form_amount(minor: int) -> str:
    """Amount as notifications carry it: dot and two decimals ("299.00")."""
    return str((Decimal(minor) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


# --- dates -----------------------------------------------------------------------------------

def utcnow() -> datetime:
    return datetime.now(UTC)


def ms_date(dt: datetime | None) -> str | None:
    """The Microsoft JSON date style the API returns next to the ISO one."""
    if dt is None:
        return None
    return f"/Date({int(dt.timestamp() * 1000)})/"


def iso_date(dt: datetime | None) -> str | None:
    """`yyyy-MM-ddTHH:mm:ss`, UTC, no offset, as the *Iso keys carry it."""
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def form_datetime(dt: datetime) -> str:
    """`yyyy-MM-dd HH:mm:ss` UTC, as notifications carry DateTime."""
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


# --- notification bodies and signatures ------------------------------------------------------

def form_escape(text: str) -> str:
    """Escape one key or value the way the provider does: lowercase hex, "+" for spaces."""
    out = []
    for byte in text.encode("utf-8"):
        if byte in _UNRESERVED:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02x}")
    return "".join(out)


def form_encode(fields: list[tuple[str, str]]) -> str:
    return "&".join(f"{form_escape(k)}={form_escape(v)}" for k, v in fields)


def hmac_b64(secret: str, message: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_headers(secret: str, body: str) -> dict[str, str]:
    """Both headers the provider sends: over the raw bytes and over the URL-decoded text."""
    return {
        "Content-HMAC": hmac_b64(secret, body.encode("utf-8")),
        "X-Content-HMAC": hmac_b64(secret, unquote_plus(body).encode("utf-8")),
    }


# --- incoming API requests -------------------------------------------------------------------

class Params:
    """Request parameters with the provider's case-insensitive key matching."""

    def __init__(self, values: dict):
        self._values = {str(k).lower(): v for k, v in values.items()}

    def get(self, key: str, default=None):
        value = self._values.get(key.lower(), default)
        return default if value is None else value

    def text(self, key: str) -> str | None:
        """A string parameter; empty means absent, numbers are accepted (InvoiceId: 123)."""
        value = self.get(key)
        if value is None or isinstance(value, (dict, list)):
            return None
        value = str(value).strip()
        return value or None

    def __contains__(self, key: str) -> bool:
        return key.lower() in self._values

    def as_dict(self) -> dict:
        return dict(self._values)


class BadRequest(ValueError):
    """A body that is neither JSON nor a form."""


def read_params(request: Request) -> Params:
    """JSON or form body (the provider takes both), with query-string values as a fallback."""
    values: dict = dict(request.args.items())
    raw = request.get_data(cache=True)
    content_type = (request.mimetype or "").lower()
    if raw and ("json" in content_type or raw.lstrip()[:1] == b"{"):
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise BadRequest("Request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise BadRequest("Request body must be a JSON object")
        values.update(body)
    else:
        values.update(request.form.items())
    return Params(values)


def json_data_text(value) -> str | None:
    """JsonData/Data kept as the JSON text the provider hands back (objects are serialised)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
