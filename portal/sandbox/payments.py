"""What the emulated provider does with money: card and token payments, confirm, void, refund."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from . import cards, fields, kkt, wire
from .runtime import Sandbox
from .store import CURRENCIES, TYPE_PAYMENT, TYPE_REFUND, Card, Transaction

NOT_FOUND = "Not found"


class PaymentError(Exception):
    """A request the provider refuses outright (answered `Success:false` with a Message, no Model)."""


@dataclass
class PaymentRequest:
    amount: int
    currency: str
    account_id: str | None
    invoice_id: str | None
    email: str | None
    description: str | None
    json_data: str | None
    name: str | None
    ip_address: str | None


def payment_request(amount, currency, *, account_id=None, invoice_id=None, email=None, description=None,
                    json_data=None, name=None, ip_address=None) -> PaymentRequest:
    try:
        minor = wire.parse_amount(amount)
    except wire.AmountError as exc:
        raise PaymentError(str(exc)) from None
    currency = (currency or "RUB").strip().upper()
    if currency not in CURRENCIES:
        raise PaymentError(f"Currency {currency} is not supported")
    return PaymentRequest(minor, currency, account_id, invoice_id, email, description,
                          wire.json_data_text(json_data), name, ip_address)


def _new_payment(sandbox: Sandbox, req: PaymentRequest, card: Card, token: str | None) -> Transaction:
    card_type, card_type_code = cards.brand(card.pan)
    return Transaction(
        id=sandbox.store.new_transaction_id(), public_id=sandbox.settings.public_id, type=TYPE_PAYMENT,
        amount=req.amount, currency=req.currency, card=card, card_type=card_type,
        card_type_code=card_type_code, status="AwaitingAuthentication", reason_code=0,
        created=wire.utcnow(), account_id=req.account_id, invoice_id=req.invoice_id, email=req.email,
        description=req.description, json_data=req.json_data, name=req.name, ip_address=req.ip_address,
        token=token, terminal_url=sandbox.settings["merchant_url"],
    )


def _ask_merchant(sandbox: Sandbox, txn: Transaction, scheme: str) -> int:
    """Check first; the merchant's non-zero code is the decline code, silence declines too."""
    status = "Completed" if scheme == "charge" else "Authorized"
    code, _ = sandbox.notifier.check(fields.check_fields(txn, status), txn.id)
    if code is None:
        return cards.UNABLE_TO_PROCESS
    return code


def _settle(sandbox: Sandbox, txn: Transaction, code: int, scheme: str, wait_for_notification: bool) -> None:
    """Record the outcome, tell the merchant (Pay or Fail), count the charge."""
    now = wire.utcnow()
    with sandbox.store.lock:
        txn.reason_code = code
        if code == cards.APPROVED:
            txn.status = "Completed" if scheme == "charge" else "Authorized"
            txn.auth_date = now
            txn.confirm_date = now if scheme == "charge" else None
            txn.auth_code = f"{secrets.randbelow(10**6):06d}"
            txn.rrn = f"{secrets.randbelow(10**12):012d}"
            if txn.token is None:
                txn.token = sandbox.store.save_card(txn.card, txn.account_id or "", now).token
        else:
            txn.status = "Declined"
    sandbox.stats.charge(txn.invoice_id, code == cards.APPROVED)
    if code == cards.APPROVED:
        body = fields.pay_fields(txn)
        kind = "pay"
    else:
        body = fields.fail_fields(txn, cards.reason_for(code)[0])
        kind = "fail"
    sandbox.notifier.send(kind, body, txn.id, wait_first=wait_for_notification)
    if code == cards.APPROVED and scheme == "charge":  # one-stage: the receipt right after the payment
        kkt.fiscalize(sandbox, txn, kkt.INCOME)


def pay_with_card(sandbox: Sandbox, req: PaymentRequest, card: Card, scheme: str) -> Transaction:
    """The widget's exchange: Check, authorisation per the test-card table, then Pay or Fail.

    Pay/Fail get their first attempt before this returns, as the real widget only calls back after
    the notification went out; failed deliveries go on retrying in the background.
    """
    txn = sandbox.store.add(_new_payment(sandbox, req, card, token=None))
    code = _ask_merchant(sandbox, txn, scheme)
    if code == cards.APPROVED:
        if cards.is_expired(card.exp_month, card.exp_year, txn.created):
            code = cards.EXPIRED_CARD
        else:
            code = cards.card_for(card.pan).first_payment
    _settle(sandbox, txn, code, scheme, wait_for_notification=True)
    return txn


def charge_token(sandbox: Sandbox, req: PaymentRequest, token: str, scheme: str) -> Transaction:
    """A saved-card charge; the card's token column of the test table decides the outcome.

    Pay/Fail go out in the background (the API caller may be holding locks of its own that the
    merchant's webhook handler needs); Check only when the check_on_token_charges switch is on.
    """
    saved = sandbox.store.saved_card(token)
    if saved is None:
        raise PaymentError("Token not found")
    txn = sandbox.store.add(_new_payment(sandbox, req, saved.card, token=token))
    code = cards.APPROVED
    if sandbox.settings["check_on_token_charges"]:
        code = _ask_merchant(sandbox, txn, scheme)
    if code == cards.APPROVED:
        if cards.is_expired(saved.card.exp_month, saved.card.exp_year, txn.created):
            code = cards.EXPIRED_CARD
        else:
            code = cards.card_for(saved.card.pan).token_charge
    _settle(sandbox, txn, code, scheme, wait_for_notification=False)
    return txn


def _payment(sandbox: Sandbox, transaction_id) -> Transaction:
    try:
        txn = sandbox.store.get(int(str(transaction_id).strip()))
    except (TypeError, ValueError):
        raise PaymentError("TransactionId must be an integer") from None
    if txn is None or txn.type != TYPE_PAYMENT:
        raise PaymentError(NOT_FOUND)
    return txn


def confirm(sandbox: Sandbox, transaction_id, amount, json_data=None) -> Transaction:
    """Complete an authorised payment, for its full amount or less."""
    txn = _payment(sandbox, transaction_id)
    minor = payment_request(amount, txn.currency).amount
    with sandbox.store.lock:
        if txn.status != "Authorized":
            raise PaymentError(f"Transaction {txn.id} cannot be confirmed: it is {txn.status}")
        if minor > txn.amount:
            raise PaymentError("Amount exceeds the authorized amount")
        txn.amount = minor
        txn.status = "Completed"
        txn.confirm_date = wire.utcnow()
        if json_data not in (None, ""):
            txn.json_data = wire.json_data_text(json_data)
    sandbox.notifier.send("confirm", fields.confirm_fields(txn), txn.id, wait_first=False)
    kkt.fiscalize(sandbox, txn, kkt.INCOME)  # two-stage: the receipt is made at confirm
    return txn


def void(sandbox: Sandbox, transaction_id) -> Transaction:
    """Release an authorisation; completed payments are refunded instead."""
    txn = _payment(sandbox, transaction_id)
    with sandbox.store.lock:
        if txn.status != "Authorized":
            raise PaymentError(f"Transaction {txn.id} cannot be voided: it is {txn.status}")
        txn.status = "Cancelled"
    sandbox.notifier.send("cancel", fields.cancel_fields(txn, wire.utcnow()), txn.id, wait_first=False)
    return txn


def refund(sandbox: Sandbox, transaction_id, amount, json_data=None, *, wait_for_notification=False,
           full_if_missing=False) -> Transaction:
    """Return money from a completed payment; the refund is a transaction of its own."""
    payment = _payment(sandbox, transaction_id)
    with sandbox.store.lock:
        if payment.status != "Completed":
            raise PaymentError(f"Transaction {payment.id} cannot be refunded: it is {payment.status}")
        if full_if_missing and amount in (None, ""):
            minor = payment.refundable
        else:
            minor = payment_request(amount, payment.currency).amount
        if minor > payment.refundable:
            raise PaymentError(
                f"Refund amount {wire.form_amount(minor)} exceeds the refundable "
                f"{wire.form_amount(payment.refundable)}")
        if minor <= 0:
            raise PaymentError("Nothing left to refund")
        payment.refunded_amount += minor
        now = wire.utcnow()
        refund_txn = sandbox.store.add(Transaction(
            id=sandbox.store.new_transaction_id(), public_id=payment.public_id, type=TYPE_REFUND,
            amount=minor, currency=payment.currency, card=payment.card, card_type=payment.card_type,
            card_type_code=payment.card_type_code, status="Completed", reason_code=0, created=now,
            account_id=payment.account_id, invoice_id=payment.invoice_id, email=payment.email,
            description=payment.description,
            json_data=wire.json_data_text(json_data) if json_data not in (None, "") else payment.json_data,
            name=payment.name, ip_address=payment.ip_address, auth_date=now, confirm_date=now,
            original_transaction_id=payment.id, terminal_url=payment.terminal_url,
        ))
    sandbox.notifier.send("refund", fields.refund_fields(refund_txn, payment), refund_txn.id,
                          wait_first=wait_for_notification)
    kkt.fiscalize(sandbox, refund_txn, kkt.INCOME_RETURN)
    return refund_txn
