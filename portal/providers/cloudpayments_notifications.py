"""CloudPayments notifications (webhooks): signature check on the raw body and parsing into Notification."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from urllib.parse import parse_qsl

from portal.providers.base import NOTIFICATION_KINDS, InvalidNotification, Notification
from portal.providers.cloudpayments_models import Fields, parse_datetime, to_minor

RAW_SIGNATURE_HEADER = "Content-HMAC"

# A notification has a few dozen fields; a body with thousands is not one of ours.
_MAX_FIELDS = 200


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
    """Form-encoded (or JSON, when the content type says so) body → Notification."""
    kind = (kind or "").lower()
    if kind not in NOTIFICATION_KINDS:
        raise InvalidNotification(f"unknown notification kind {kind!r}")
    raw = _read_fields(raw_body, content_type)
    fields = Fields(raw)
    # Recurrent describes a provider-side subscription (its own Id), every other kind a transaction.
    if kind != "recurrent" and (fields.get("TransactionId") is None or fields.get("Amount") is None):
        raise InvalidNotification(f"{kind} notification without TransactionId or Amount")
    try:
        amount = fields.get("Amount")
        return Notification(
            kind=kind,
            transaction_id=fields.text("TransactionId") if kind != "recurrent" else None,
            amount_minor=to_minor(amount) if amount is not None else None,
            currency=fields.text("Currency"),
            invoice_id=fields.text("InvoiceId"),
            account_id=fields.text("AccountId"),
            email=fields.text("Email"),
            status=fields.lower("Status"),
            operation_type=fields.lower("OperationType"),
            reason=fields.text("Reason"),
            reason_code=fields.integer("ReasonCode"),
            token=fields.text("Token"),
            card_first_six=fields.text("CardFirstSix"),
            card_last_four=fields.text("CardLastFour"),
            card_type=fields.text("CardType"),
            card_exp=fields.text("CardExpDate"),
            payment_transaction_id=fields.text("PaymentTransactionId"),
            occurred_at=parse_datetime(fields.get("DateTime")),
            test_mode=fields.flag("TestMode"),
            data=_data(fields.text("Data", "JsonData")),
            raw=raw,
        )
    except ValueError as error:
        raise InvalidNotification(f"malformed {kind} notification: {error}") from None


def _read_fields(raw_body: bytes, content_type: str | None) -> dict[str, str]:
    if not raw_body or not raw_body.strip():
        raise InvalidNotification("empty notification body")
    try:
        text = raw_body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidNotification("notification body is not UTF-8") from None
    if content_type and "json" in content_type.lower():
        try:
            document = json.loads(text)
        except ValueError:
            raise InvalidNotification("notification body is not valid JSON") from None
        if not isinstance(document, dict):
            raise InvalidNotification("JSON notification body is not an object")
        return {str(key): _as_text(value) for key, value in document.items()}
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=True, errors="strict", max_num_fields=_MAX_FIELDS
        )
    except (ValueError, UnicodeError):
        raise InvalidNotification("notification body is not form-encoded") from None
    return dict(pairs)


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
    if text is None:
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
