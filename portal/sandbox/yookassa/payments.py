"""What the emulated YooKassa does with money: payments, the widget's card entry, saved-method charges,
capture, cancel, refunds, receipts and expiry, each followed by its notification."""

from __future__ import annotations

import secrets
import threading
from datetime import timedelta

from ..cards import is_expired, normalise_pan
from . import cards, wire
from .runtime import Sandbox
from .store import Card, Payment, Receipt, Refund, SavedMethod

TOKEN_LIFETIME = timedelta(hours=1)  # a pending embedded payment is canceled after about an hour
HOLD_LIFETIME = timedelta(days=7)  # an uncaptured two-stage payment
LOCALES = ("ru_RU", "en_US")  # the widget's languages; YooKassa's default is Russian
DEFAULT_LOCALE = "ru_RU"


# --- creating payments ---

def create_payment(sandbox: Sandbox, body: dict) -> dict:
    amount, currency = wire.parse_amount(body.get("amount"))
    confirmation = body.get("confirmation")
    method_id = body.get("payment_method_id")
    if confirmation is not None and method_id is not None:
        raise wire.invalid("payment_method_id cannot be used with confirmation", "payment_method_id")
    for unsupported in ("payment_token", "payment_method_data", "transfers", "deal"):
        if body.get(unsupported):
            raise wire.invalid(f"{unsupported} is not supported by the sandbox", unsupported)
    receipt = _checked_receipt(body.get("receipt"), amount)
    payment = Payment(
        id=wire.new_id(), amount=amount, currency=currency, capture=wire.flag(body, "capture", False),
        created_at=sandbox.store.now(), description=wire.text_field(body, "description", 128),
        metadata=wire.metadata(body.get("metadata")),
        save_payment_method=wire.flag(body, "save_payment_method", False),
        merchant_customer_id=wire.text_field(body, "merchant_customer_id", 200),
    )
    if method_id is not None:
        return _charge_saved_method(sandbox, payment, method_id, receipt)
    if not isinstance(confirmation, dict):
        raise wire.invalid("confirmation or payment_method_id is required", "confirmation")
    if confirmation.get("type") != "embedded":
        raise wire.invalid("The sandbox supports confirmation.type embedded only", "confirmation.type")
    payment.locale = _widget_locale(confirmation)
    payment.confirmation_token = "ct-" + payment.id
    payment.receipt = receipt
    with sandbox.store.lock:
        sandbox.store.payments[payment.id] = payment
        sandbox.store.save()
    return payment.to_json(sandbox.settings.shop_id)


def _widget_locale(confirmation: dict) -> str:
    """The language the widget speaks to the customer: the payment's `confirmation.locale`, Russian unless said."""
    locale = confirmation.get("locale")
    if locale is None:
        return DEFAULT_LOCALE
    if locale not in LOCALES:
        raise wire.invalid(f"confirmation.locale must be one of {', '.join(LOCALES)}", "confirmation.locale")
    return locale


def _charge_saved_method(sandbox: Sandbox, payment: Payment, method_id, receipt) -> dict:
    """A charge without the customer: final at once (or pending, when the switch says so)."""
    if not isinstance(method_id, str):
        raise wire.invalid("payment_method_id must be a string", "payment_method_id")
    method = sandbox.store.methods.get(method_id)
    if method is None:
        raise wire.invalid("Payment method not found", "payment_method_id")
    if not method.saved:
        raise wire.invalid("Payment method is not saved: it cannot be charged without the customer",
                           "payment_method_id")
    payment.method = method
    payment.receipt = receipt
    reason = sandbox.settings.take_decline("charges")
    if reason is None and method.revoked:
        reason = "permission_revoked"
    if reason is None and is_expired(method.card.expiry_month, method.card.expiry_year, payment.created_at):
        reason = "card_expired"
    if reason is None:
        reason = cards.card_for(method.card.pan).saved_charge
    with sandbox.store.lock:
        sandbox.store.payments[payment.id] = payment
    if sandbox.settings.take_fault("pending_charge_next"):
        delay = sandbox.settings["pending_charge_ms"] / 1000.0
        threading.Timer(delay, _settle_later, args=(sandbox, payment, reason)).start()
        return payment.to_json(sandbox.settings.shop_id)
    _settle(sandbox, payment, reason, three_ds=False, wait_first=False)
    return payment.to_json(sandbox.settings.shop_id)


def _settle_later(sandbox: Sandbox, payment: Payment, reason: str | None) -> None:
    with sandbox.store.lock:
        if payment.status != "pending":
            return
    _settle(sandbox, payment, reason, three_ds=False, wait_first=False)


def _settle(sandbox: Sandbox, payment: Payment, reason: str | None, *, three_ds: bool, wait_first: bool):
    """Authorised (captured at once for capture: true) or canceled with the reason; then notify."""
    store = sandbox.store
    with store.lock:
        now = store.now()
        if reason is None:
            payment.authorization = {"rrn": f"{secrets.randbelow(10**12):012d}",
                                     "auth_code": f"{secrets.randbelow(10**6):06d}",
                                     "three_d_secure": {"applied": three_ds}}
            if payment.capture:
                payment.status, payment.captured_at = "succeeded", now
            else:
                payment.status, payment.expires_at = "waiting_for_capture", now + HOLD_LIFETIME
        else:
            payment.status = "canceled"
            payment.cancellation = (cards.REASONS[reason], reason)
        store.save()
    sandbox.stats.charge((payment.metadata or {}).get("invoice_id"), reason is None)
    if payment.status == "succeeded":
        _register_receipt(sandbox, payment, None)
    event = {"succeeded": "payment.succeeded", "waiting_for_capture": "payment.waiting_for_capture",
             "canceled": "payment.canceled"}[payment.status]
    _notify(sandbox, event, payment.to_json(sandbox.settings.shop_id), wait_first)


def _notify(sandbox: Sandbox, event: str, obj: dict, wait_first: bool) -> None:
    first = not sandbox.notifier.entries(transaction_id=obj["id"])
    sandbox.notifier.notify(event, obj, wait_first=wait_first, first_of_object=first)


# --- the widget's card entry ---

def pay_with_card(sandbox: Sandbox, body: dict) -> dict:
    """What the widget does when the customer submits the card form: one attempt, then the final state."""
    token = body.get("confirmation_token")
    payment = sandbox.store.payment_by_token(token) if isinstance(token, str) else None
    if payment is None:
        raise wire.not_found("Unknown confirmation_token", "confirmation_token")
    expire_due(sandbox)
    if payment.status != "pending" or payment.attempted:
        raise wire.invalid("The confirmation_token is used or expired", "confirmation_token")
    card = _card(body.get("card"))
    three_ds_answer = str(body.get("three_ds") or "pass").lower()
    if three_ds_answer not in {"pass", "fail"}:
        raise wire.invalid("three_ds must be pass or fail", "three_ds")
    test_card = cards.card_for(card.pan)
    reason = test_card.first_payment
    if reason is None and not (test_card.three_ds and three_ds_answer == "fail"):
        reason = sandbox.settings.take_decline("widget")
    if is_expired(card.expiry_month, card.expiry_year, sandbox.store.now()):
        reason = "card_expired"
    elif reason is None and test_card.three_ds and three_ds_answer == "fail":
        reason = "3d_secure_failed"
    with sandbox.store.lock:
        if payment.status != "pending" or payment.attempted:  # another submit won the race
            raise wire.invalid("The confirmation_token is used or expired", "confirmation_token")
        payment.attempted = True
        method = SavedMethod(payment.id, card, saved=payment.save_payment_method and reason is None)
        payment.method = method
        sandbox.store.methods[method.id] = method
    _settle(sandbox, payment, reason, three_ds=test_card.three_ds, wait_first=True)
    return payment.to_json(sandbox.settings.shop_id)


def _card(raw) -> Card:
    if not isinstance(raw, dict):
        raise wire.invalid("card is required: number, expiry_month, expiry_year, csc", "card")
    pan = normalise_pan(raw.get("number"))
    if pan is None:
        raise wire.invalid("Invalid card number", "card.number")
    try:
        month, year = int(str(raw.get("expiry_month")).strip()), int(str(raw.get("expiry_year")).strip())
    except ValueError:
        raise wire.invalid("Invalid card expiry", "card.expiry_month") from None
    if year < 100:
        year += 2000
    if not 1 <= month <= 12 or not 2000 <= year <= 2099:
        raise wire.invalid("Invalid card expiry", "card.expiry_month")
    csc = str(raw.get("csc") or "").strip()
    if not (csc.isdigit() and len(csc) in (3, 4)):
        raise wire.invalid("Invalid card security code", "card.csc")
    return Card(pan, month, year)


# --- two-stage payments ---

def capture(sandbox: Sandbox, payment_id: str, body: dict) -> dict:
    payment = _payment(sandbox, payment_id)
    amount = None
    if body.get("amount") is not None:
        amount, currency = wire.parse_amount(body["amount"])
        if currency != payment.currency:
            raise wire.invalid("amount.currency differs from the payment's", "amount.currency")
    receipt = _checked_receipt(body.get("receipt"), amount or payment.amount) if body.get("receipt") else None
    with sandbox.store.lock:
        if payment.status != "waiting_for_capture":
            raise wire.invalid(f"Payment is {payment.status}: only waiting_for_capture can be captured")
        if amount is not None and amount > payment.amount:
            raise wire.invalid("The capture amount exceeds the authorised amount", "amount.value")
        if amount is not None:
            payment.amount = amount
        if receipt is not None:
            payment.receipt = receipt
        payment.status, payment.captured_at, payment.expires_at = "succeeded", sandbox.store.now(), None
        sandbox.store.save()
    _register_receipt(sandbox, payment, None)
    obj = payment.to_json(sandbox.settings.shop_id)
    _notify(sandbox, "payment.succeeded", obj, wait_first=False)
    return obj


def cancel(sandbox: Sandbox, payment_id: str) -> dict:
    payment = _payment(sandbox, payment_id)
    with sandbox.store.lock:
        if payment.status != "waiting_for_capture":
            raise wire.invalid(f"Payment is {payment.status}: only waiting_for_capture can be canceled")
        payment.status, payment.expires_at = "canceled", None
        payment.cancellation = ("merchant", "canceled_by_merchant")
        sandbox.store.save()
    obj = payment.to_json(sandbox.settings.shop_id)
    _notify(sandbox, "payment.canceled", obj, wait_first=False)
    return obj


def _payment(sandbox: Sandbox, payment_id: str) -> Payment:
    payment = sandbox.store.payment(payment_id)
    if payment is None:
        raise wire.not_found("Payment not found")
    return payment


# --- refunds ---

def create_refund(sandbox: Sandbox, body: dict) -> dict:
    payment_id = body.get("payment_id")
    if not isinstance(payment_id, str) or len(payment_id) != 36:
        raise wire.invalid("payment_id must be the 36-character id of a payment", "payment_id")
    payment = sandbox.store.payment(payment_id)
    if payment is None:
        raise wire.not_found("Payment not found", "payment_id")
    amount, currency = wire.parse_amount(body.get("amount"))
    if currency != payment.currency:
        raise wire.invalid("amount.currency differs from the payment's", "amount.currency")
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) >= 256):
        raise wire.invalid("description must be shorter than 256 characters", "description")
    receipt = _checked_receipt(body.get("receipt"), amount) if body.get("receipt") else None
    with sandbox.store.lock:
        if payment.status != "succeeded":
            raise wire.invalid(f"Payment is {payment.status}: only succeeded payments can be refunded",
                               "payment_id")
        if amount > payment.refundable_left:
            raise wire.invalid(
                f"Refund amount exceeds what is left to refund ({wire.money_text(payment.refundable_left)})",
                "amount.value")
        payment.refunded += amount
        refund = Refund(wire.new_id(), payment.id, amount, currency, sandbox.store.now(),
                        description=description, metadata=wire.metadata(body.get("metadata")),
                        rrn=f"{secrets.randbelow(10**12):012d}")
        refund.receipt = receipt
        sandbox.store.refunds[refund.id] = refund
        sandbox.store.save()
    _register_receipt(sandbox, payment, refund)
    obj = refund.to_json()
    _notify(sandbox, "refund.succeeded", obj, wait_first=False)
    return obj


# --- receipts (shared/receipts-54fz.md) ---

def _checked_receipt(raw, amount: int) -> dict | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise wire.invalid("receipt must be an object", "receipt")
    customer = raw.get("customer") or {}
    if not (isinstance(customer, dict) and (customer.get("email") or customer.get("phone"))) \
            and not (raw.get("email") or raw.get("phone")):
        raise wire.invalid("receipt.customer needs an email or a phone", "receipt")
    items = raw.get("items")
    if not isinstance(items, list) or not items or len(items) > 100:
        raise wire.invalid("receipt.items needs 1 to 100 items", "receipt")
    total = 0
    for item in items:
        if not isinstance(item, dict) or not item.get("description"):
            raise wire.invalid("every receipt item needs a description", "receipt")
        unit, _ = wire.parse_amount(item.get("amount"), "receipt.items.amount")
        total += unit * wire.parse_quantity(item.get("quantity"))
    if total != amount:
        raise wire.invalid("The receipt's total differs from the amount", "receipt")
    return raw


def _register_receipt(sandbox: Sandbox, payment: Payment, refund: Refund | None) -> None:
    """A receipt travelling with a payment or refund: pending now, registered after the delay."""
    owner = refund or payment
    body = owner.receipt
    if not body or owner.receipt_registration:
        return
    store = sandbox.store
    receipt = Receipt("rt-" + wire.new_id(), "refund" if refund else "payment", payment.id,
                      refund.id if refund else None, "pending", store.now(), body)
    with store.lock:
        store.receipts[receipt.id] = receipt
        owner.receipt_registration = "pending"
    delay = sandbox.settings["receipt_delay_ms"] / 1000.0
    failing = sandbox.settings.take_fault("fail_receipt_next")
    if delay:
        threading.Timer(delay, _finish_receipt, args=(sandbox, owner, receipt, failing)).start()
    else:
        _finish_receipt(sandbox, owner, receipt, failing)


def _finish_receipt(sandbox: Sandbox, owner, receipt: Receipt, failing: bool) -> None:
    store = sandbox.store
    with store.lock:
        if failing:
            receipt.status = owner.receipt_registration = "canceled"
        else:
            receipt.status = owner.receipt_registration = "succeeded"
            receipt.fiscal_document_number = store.next_fiscal_document()
            receipt.registered_at = store.now()
        store.save()


def create_receipt(sandbox: Sandbox, body: dict) -> dict:
    """POST /receipts: a settlement receipt after a prepayment, registered at once."""
    kind = body.get("type")
    if kind not in {"payment", "refund"}:
        raise wire.invalid("type must be payment or refund", "type")
    payment_id, refund_id = body.get("payment_id"), body.get("refund_id")
    if kind == "payment":
        payment = sandbox.store.payment(payment_id) if isinstance(payment_id, str) else None
        if payment is None:
            raise wire.invalid("payment_id of an existing payment is required", "payment_id")
    else:
        refund = sandbox.store.refund(refund_id) if isinstance(refund_id, str) else None
        if refund is None:
            raise wire.invalid("refund_id of an existing refund is required", "refund_id")
        payment_id = refund.payment_id
    if not body.get("items") or not (body.get("customer") or body.get("email") or body.get("phone")):
        raise wire.invalid("a receipt needs items and a customer email or phone", "receipt")
    store = sandbox.store
    receipt = Receipt("rt-" + wire.new_id(), kind, payment_id, refund_id, "pending", store.now(), body)
    with store.lock:
        store.receipts[receipt.id] = receipt
    _finish_receipt(sandbox, receipt, receipt, sandbox.settings.take_fault("fail_receipt_next"))
    return receipt.to_json()


# --- time passing ---

def expire_due(sandbox: Sandbox) -> None:
    """Cancel what the provider would have canceled by now: unpaid embedded payments, stale holds."""
    store = sandbox.store
    expired = []
    with store.lock:
        now = store.now()
        for payment in store.payments.values():
            if payment.status == "pending" and payment.confirmation_token \
                    and now >= payment.created_at + TOKEN_LIFETIME:
                payment.status, payment.cancellation = "canceled", ("yoo_money", "expired_on_confirmation")
                expired.append(payment)
            elif payment.status == "waiting_for_capture" and payment.expires_at and now >= payment.expires_at:
                payment.status, payment.expires_at = "canceled", None
                payment.cancellation = ("yoo_money", "expired_on_capture")
                expired.append(payment)
        if expired:
            store.save()
    for payment in expired:
        _notify(sandbox, "payment.canceled", payment.to_json(sandbox.settings.shop_id), wait_first=False)
