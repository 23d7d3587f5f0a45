"""CloudPayments notifications (webhooks): signature check on the raw body and parsing into Notification."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from urllib.parse import parse_qsl

from portal.providers import reason_codes
from portal.providers.base import NOTIFICATION_KINDS, CardSaved, EventKind, InvalidNotification, Notification
from portal.providers.cloudpayments_models import Fields, parse_datetime, to_minor

PROVIDER = "cloudpayments"

RAW_SIGNATURE_HEADER = "Content-HMAC"

# A notification has a few dozen fields; a body with thousands is not one of ours.
_MAX_FIELDS = 200
_MAX_JSON_DEPTH = 32
_MAX_TOKEN = 256
_CURRENCY = re.compile(r"[A-Z]{3}")
_TOKEN = re.compile(rf"[!-~]{{1,{_MAX_TOKEN}}}")
_SUBSCRIPTION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Display-only card fields, kept when they fit their columns.
_FIRST_SIX = re.compile(r"[0-9]{6}")
_LAST_FOUR = re.compile(r"[0-9]{4}")
_CARD_EXP = re.compile(r"[0-9]{2}/[0-9]{2}")
_CARD_TYPE = re.compile(r"[^\x00-\x1f]{1,32}")


def signature(secret: str, message: bytes) -> str:
    """base64(HMAC-SHA256(secret, message)), as the provider puts in its signature headers."""
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(secret: str, raw_body: bytes, headers: Mapping[str, str]) -> bool:
    """Check Content-HMAC over the raw bytes, the bytes the parser reads.

    X-Content-HMAC (over the URL-decoded body) is never accepted, not even as a fallback: decoding
    merges "%26" with "&", so a body signed in its decoded form can be re-sent with other fields
    (an `InvoiceId` smuggled inside `Name`) under the same signature. The provider always sends
    Content-HMAC (shared/cloudpayments.md), so a notification without it is refused."""
    raw_header = _header(headers, RAW_SIGNATURE_HEADER)
    if raw_header is None:
        return False
    return _matches(signature(secret, raw_body), raw_header)


def parse_notification(kind: str, raw_body: bytes, content_type: str | None) -> Notification:
    """Form-encoded (or JSON, when the content type says so) body → Notification, strictly: money and
    keys must have exactly their documented form, or the notification is invalid (with its
    transaction id, when that much was readable)."""
    kind = (kind or "").lower()
    if kind not in NOTIFICATION_KINDS:
        raise InvalidNotification(f"unknown notification kind {kind!r}")
    raw = _read_fields(raw_body, content_type)
    fields = Fields(raw)
    if kind == "receipt":
        from portal.providers.cloudpayments_receipts import receipt_notification

        return receipt_notification(fields, raw)
    try:
        # Recurrent describes a provider-side subscription (its own Id), every other kind a transaction.
        transaction_id = fields.key("TransactionId") if kind != "recurrent" else None
        subscription_id = fields.text("Id")
        if kind == "recurrent" and subscription_id is not None and not _SUBSCRIPTION_ID.fullmatch(subscription_id):
            raise ValueError("Id is not a subscription id of at most 64 letters, digits, '_' or '-'")
    except ValueError as error:
        raise InvalidNotification(f"malformed {kind} notification: {error}") from None
    if kind != "recurrent" and (transaction_id is None or fields.get("Amount") is None):
        raise InvalidNotification(f"{kind} notification without TransactionId or Amount",
                                  transaction_id=transaction_id)
    try:
        status, token, reason_code = fields.lower("Status"), _token(fields), fields.integer("ReasonCode")
        shown = CardSaved(token or "", first_six=fields.matching(_FIRST_SIX, "CardFirstSix"),
                          last_four=fields.matching(_LAST_FOUR, "CardLastFour"),
                          exp=fields.matching(_CARD_EXP, "CardExpDate"),
                          card_type=fields.matching(_CARD_TYPE, "CardType"),
                          issuer=fields.matching(_CARD_TYPE, "Issuer"))
        return Notification(
            kind=kind,
            transaction_id=transaction_id,
            amount_minor=_amount(kind, fields),
            currency=_currency(fields),
            invoice_id=fields.text("InvoiceId"),
            account_id=fields.text("AccountId"),
            email=fields.text("Email"),
            status=status,
            operation_type=fields.lower("OperationType"),
            reason=fields.text("Reason"),
            reason_code=reason_code,
            token=token,
            card_first_six=shown.first_six,
            card_last_four=shown.last_four,
            card_type=shown.card_type,
            card_exp=shown.exp,
            card_issuer=shown.issuer,
            payment_transaction_id=fields.key("PaymentTransactionId"),
            occurred_at=parse_datetime(fields.get("DateTime")),
            test_mode=fields.flag("TestMode"),
            data=_data(fields.text("Data", "JsonData")),
            raw=raw,
            provider=PROVIDER,
            event=_event(kind, status),
            decline=reason_codes.decline(reason_code, fields.text("Reason"), fields.text("CardHolderMessage"))
            if kind == "fail" else None,
            card=shown if token else None,  # the card-saved event: a Pay or Fail that carries a Token
        )
    except ValueError as error:
        raise InvalidNotification(f"malformed {kind} notification: {error}", transaction_id=transaction_id) from None


def _event(kind: str, status: str | None) -> EventKind:
    if kind in ("pay", "confirm"):
        return EventKind.PAYMENT_AUTHORIZED if status == "authorized" else EventKind.PAYMENT_SUCCEEDED
    return {"check": EventKind.CHECK, "fail": EventKind.PAYMENT_FAILED, "refund": EventKind.REFUND_SUCCEEDED,
            "cancel": EventKind.PAYMENT_VOIDED}.get(kind, EventKind.INFORMATIONAL)


def _amount(kind: str, fields: Fields) -> int | None:
    amount = fields.get("Amount")
    if amount is None:
        return None
    minor = to_minor(amount)
    # A transaction moves money; only Recurrent (a provider-side subscription) may describe 0.00.
    if minor <= 0 and kind != "recurrent":
        raise ValueError("Amount is not positive")
    return minor


def _currency(fields: Fields) -> str | None:
    currency = fields.text("Currency")
    if currency is not None and not _CURRENCY.fullmatch(currency):
        raise ValueError("Currency is not a three-letter ISO 4217 code")
    return currency


def _token(fields: Fields) -> str | None:
    token = fields.text("Token")
    if token is not None and not _TOKEN.fullmatch(token):
        raise ValueError(f"Token is not at most {_MAX_TOKEN} printable ASCII characters")
    return token


def _read_fields(raw_body: bytes, content_type: str | None) -> dict[str, str]:
    if not raw_body or not raw_body.strip():
        raise InvalidNotification("empty notification body")
    try:
        text = raw_body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidNotification("notification body is not UTF-8") from None
    if content_type and "json" in content_type.lower():
        pairs = _json_fields(text)
    else:
        try:
            pairs = parse_qsl(
                text, keep_blank_values=True, strict_parsing=True, errors="strict", max_num_fields=_MAX_FIELDS
            )
        except (ValueError, UnicodeError):
            raise InvalidNotification("notification body is not form-encoded") from None
    fields: dict[str, str] = {}
    seen: set[str] = set()
    for key, value in pairs:
        # Fields are matched case-insensitively: two spellings of one name would leave it ambiguous.
        if key.lower() in seen:
            raise InvalidNotification(f"field {key[:40]!r} appears more than once")
        seen.add(key.lower())
        if "\x00" in key or "\x00" in value:
            raise InvalidNotification(f"field {key[:40]!r} contains a NUL character")
        fields[key] = value
    return fields


def _json_fields(text: str) -> list[tuple[str, str]]:
    if _too_deep(text):
        raise InvalidNotification(f"JSON notification body nested deeper than {_MAX_JSON_DEPTH} levels")
    try:
        document = json.loads(text)
    except ValueError:
        raise InvalidNotification("notification body is not valid JSON") from None
    if not isinstance(document, dict):
        raise InvalidNotification("JSON notification body is not an object")
    if len(document) > _MAX_FIELDS:
        raise InvalidNotification(f"JSON notification body has more than {_MAX_FIELDS} fields")
    pairs = [(str(key), _as_text(value)) for key, value in document.items()]
    for key, value in pairs:
        try:  # JSON's \ud800 escapes make lone surrogates, which no database column can store
            key.encode("utf-8"), value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidNotification("JSON notification body contains a lone surrogate") from None
    return pairs


def _too_deep(text: str, limit: int = 0) -> bool:
    """Whether JSON text nests arrays and objects deeper than the limit; found by a scan, since the
    parser itself would hit Python's recursion limit first."""
    limit = limit or _MAX_JSON_DEPTH
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _as_text(value: object) -> str:
    """A JSON value as the string the form-encoded notification would have carried."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _data(text: str | None) -> dict:
    # Data is whatever the page put into the widget; a malformed value must not make the provider's
    # payment unrecordable, so it stays readable in raw and is otherwise ignored.
    if text is None or _too_deep(text):
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # Plain dicts are case-sensitive, HTTP header names are not.
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _matches(expected: str, received: str) -> bool:
    try:
        received_bytes = received.strip().encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected.encode("ascii"), received_bytes)
