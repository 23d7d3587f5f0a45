"""YooKassa wire values (amounts, times, metadata), its payment and refund objects as billing's
Transaction and Notification, and its cancellation reasons as neutral declines."""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

from portal.providers.base import (
    CATEGORY_MESSAGES,
    CardSaved,
    Decline,
    DeclineCategory,
    EventKind,
    InvalidNotification,
    Notification,
    Transaction,
    TransactionStatus,
)

PROVIDER = "yookassa"
EVENTS = ("payment.succeeded", "payment.waiting_for_capture", "payment.canceled", "refund.succeeded")
MAX_AMOUNT_MINOR = 2**31 - 1
_ID = re.compile(r"[0-9A-Za-z-]{1,64}")
_AMOUNT = re.compile(r"[0-9]{1,10}(?:\.[0-9]{1,2})?")

STATUSES = {
    "pending": TransactionStatus.PENDING,
    "waiting_for_capture": TransactionStatus.AUTHORIZED,
    "succeeded": TransactionStatus.COMPLETED,
}
# Cancellations that are no decline: our own cancel of a hold, an expired hold, a customer who left.
VOIDING_REASONS = ("canceled_by_merchant", "expired_on_capture")
ABANDONED_REASONS = ("expired_on_confirmation",)

# cancellation_details.reason → neutral category (shared/yookassa.md, the dunning column).
CATEGORIES = {
    "insufficient_funds": DeclineCategory.INSUFFICIENT_FUNDS,
    **dict.fromkeys(("issuer_unavailable", "internal_timeout", "rejected_by_timeout",
                     "payment_method_limit_exceeded"), DeclineCategory.TRY_LATER),
    "general_decline": DeclineCategory.OTHER,
    "card_expired": DeclineCategory.EXPIRED_CARD,
    **dict.fromkeys(("permission_revoked", "payment_method_restricted", "fraud_suspected", "country_forbidden",
                     "invalid_card_number", "call_issuer"), DeclineCategory.NEVER_RETRY),
    **dict.fromkeys(("3d_secure_failed", "invalid_csc", "identification_required"), DeclineCategory.THREE_DS_FAILED),
}
# Where the reason says more than its category.
MESSAGES = {
    "invalid_csc": "Incorrect CVV code",
    "invalid_card_number": "Invalid card number",
    "permission_revoked": "This card cannot be used for this payment",
    "issuer_unavailable": "Your bank did not answer in time. Please try again later",
}


def decline(reason: str | None) -> Decline:
    """A YooKassa cancellation reason in billing's words; an unknown reason is soft (the SDK's `unknown`).
    YooKassa words nothing for the card holder: what the customer reads is the reason's message here."""
    category = CATEGORIES.get(reason or "", DeclineCategory.OTHER)
    return Decline(category, reason=reason, customer_message=MESSAGES.get(reason or "", CATEGORY_MESSAGES[category]))


def amount(minor: int, currency: str) -> dict:
    """Minor units → {"value": "299.00", "currency": "RUB"}."""
    return {"value": f"{minor // 100}.{minor % 100:02d}", "currency": currency}


def to_minor(value: object) -> int:
    text = str(value)
    if not _AMOUNT.fullmatch(text):
        raise ValueError(f"amount {text[:20]!r} is not a decimal with at most two places")
    minor = int(Decimal(text) * 100)
    if not 0 < minor <= MAX_AMOUNT_MINOR:
        raise ValueError("amount out of range")
    return minor


def metadata(invoice_id, account_id, **extra) -> dict:
    """What every payment of ours carries back in its notifications: strings only, keys ≤ 32 characters."""
    fields = {"invoice_id": invoice_id, "account_id": account_id, **extra}
    return {key[:32]: str(value)[:512] for key, value in fields.items() if value is not None}


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def transaction(payment: Mapping) -> Transaction:
    """A payment object (as GET /payments/{id} returns it) → Transaction; ValueError when it is not one."""
    payment_id = payment.get("id")
    if not isinstance(payment_id, str) or not _ID.fullmatch(payment_id):
        raise ValueError("payment without a readable id")
    money = payment.get("amount") or {}
    method = payment.get("payment_method") or {}
    card = method.get("card") or {}
    meta = payment.get("metadata") or {}
    status, reason = payment.get("status"), (payment.get("cancellation_details") or {}).get("reason")
    neutral = STATUSES.get(status) or (TransactionStatus.CANCELLED if reason in VOIDING_REASONS + ABANDONED_REASONS
                                       else TransactionStatus.DECLINED)
    exp = f"{card['expiry_month']}/{str(card['expiry_year'])[-2:]}" if card.get("expiry_month") and \
        card.get("expiry_year") else None
    token = method.get("id") if method.get("saved") and isinstance(method.get("id"), str) else None
    saved = CardSaved(token, first_six=card.get("first6"), last_four=card.get("last4"), exp=exp,
                      card_type=card.get("card_type"), issuer=card.get("issuer_name")) if token else None
    return Transaction(
        transaction_id=payment_id, status=neutral, amount_minor=to_minor(money.get("value")),
        currency=str(money.get("currency") or "RUB"), invoice_id=_meta(meta.get("invoice_id")),
        account_id=_meta(meta.get("account_id")), email=None, token=token, card_first_six=card.get("first6"),
        card_last_four=card.get("last4"), card_type=card.get("card_type"), card_exp=exp, reason_code=None,
        reason=reason, card_holder_message=None, test_mode=bool(payment.get("test")),
        created_at=parse_time(payment.get("created_at")), raw=dict(payment), provider=PROVIDER,
        decline=decline(reason) if neutral == TransactionStatus.DECLINED else None, card=saved)


def payment_notification(kind: str, payment: Mapping) -> Notification:
    """A payment event, its meaning taken from the payment's state (the state fetched is the truth)."""
    try:
        facts = transaction(payment)
    except (ValueError, TypeError) as error:
        raise InvalidNotification(f"malformed {kind} notification: {error}",
                                  transaction_id=_text(payment.get("id"))) from None
    reason = facts.reason
    event = {TransactionStatus.COMPLETED: EventKind.PAYMENT_SUCCEEDED,
             TransactionStatus.AUTHORIZED: EventKind.PAYMENT_AUTHORIZED,
             TransactionStatus.DECLINED: EventKind.PAYMENT_FAILED}.get(facts.status)
    if facts.status == TransactionStatus.CANCELLED:
        event = EventKind.INFORMATIONAL if reason in ABANDONED_REASONS else EventKind.PAYMENT_VOIDED
    return Notification(
        kind=kind, transaction_id=facts.transaction_id, amount_minor=facts.amount_minor, currency=facts.currency,
        invoice_id=facts.invoice_id, account_id=facts.account_id, email=None, status=str(facts.status),
        operation_type="payment", reason=reason, reason_code=None, token=facts.token,
        card_first_six=facts.card_first_six, card_last_four=facts.card_last_four, card_type=facts.card_type,
        card_exp=facts.card_exp, payment_transaction_id=None, occurred_at=facts.created_at, test_mode=facts.test_mode,
        data={}, raw=dict(payment), provider=PROVIDER, event=event or EventKind.INFORMATIONAL,
        decline=facts.decline, card=facts.card)


def refund_notification(kind: str, refund: Mapping) -> Notification:
    refund_id, payment_id = _text(refund.get("id")), _text(refund.get("payment_id"))
    money = refund.get("amount") or {}
    try:
        minor = to_minor(money.get("value"))
    except (ValueError, TypeError) as error:
        raise InvalidNotification(f"malformed {kind} notification: {error}", transaction_id=refund_id) from None
    if refund_id is None or payment_id is None:
        raise InvalidNotification(f"{kind} notification without the refund's or the payment's id")
    succeeded = refund.get("status") == "succeeded"
    return Notification(
        kind=kind, transaction_id=refund_id, amount_minor=minor, currency=_text(money.get("currency")),
        invoice_id=None, account_id=None, email=None, status=_text(refund.get("status")), operation_type="refund",
        reason=None, reason_code=None, token=None, card_first_six=None, card_last_four=None, card_type=None,
        card_exp=None, payment_transaction_id=payment_id, occurred_at=parse_time(refund.get("created_at")),
        test_mode=False, data={}, raw=dict(refund), provider=PROVIDER,
        event=EventKind.REFUND_SUCCEEDED if succeeded else EventKind.INFORMATIONAL)


def notification(document: object) -> Notification:
    """{"type": "notification", "event": ..., "object": {...}} → Notification, as the sender claims it."""
    if not isinstance(document, dict) or document.get("type") != "notification":
        raise InvalidNotification("not a YooKassa notification (type must be \"notification\")")
    event, obj = document.get("event"), document.get("object")
    if event not in EVENTS:
        raise InvalidNotification(f"unknown notification event {str(event)[:40]!r}")
    if not isinstance(obj, dict) or not obj:
        raise InvalidNotification(f"{event} notification without its object")
    if event.startswith("refund."):
        return refund_notification(event, obj)
    return payment_notification(event, obj)


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    return text if _ID.fullmatch(text) else None


def _meta(value: object) -> str | None:
    # Metadata is ours, echoed back: kept as text, bounded to the lookup columns.
    return str(value)[:64] if value not in (None, "") else None
