"""Notification field lists per type, built from stored transactions the way the provider fills them."""

from __future__ import annotations

from datetime import datetime

from . import wire
from .store import Transaction


def _optional(txn: Transaction) -> list[tuple[str, str]]:
    """The optional tail every type carries; absent values travel as empty strings."""
    return [
        ("InvoiceId", txn.invoice_id or ""),
        ("AccountId", txn.account_id or ""),
        ("SubscriptionId", ""),
        ("Name", txn.name or ""),
        ("Email", txn.email or ""),
        ("IpAddress", txn.ip_address or ""),
        ("Description", txn.description or ""),
        ("Data", txn.json_data or ""),
    ]


def _money_and_card(txn: Transaction, when: datetime) -> list[tuple[str, str]]:
    amount = wire.form_amount(txn.amount)
    return [
        ("TransactionId", str(txn.id)),
        ("Amount", amount),
        ("Currency", txn.currency),
        ("PaymentAmount", amount),
        ("PaymentCurrency", txn.currency),
        ("DateTime", wire.form_datetime(when)),
        ("CardFirstSix", txn.card.pan[:6]),
        ("CardLastFour", txn.card.pan[-4:]),
        ("CardType", txn.card_type),
        ("CardExpDate", txn.card.exp),
        ("Issuer", "Sandbox Bank"),
        ("IssuerBankCountry", "RU"),
        ("TestMode", "1"),
    ]


def check_fields(txn: Transaction, status: str) -> list[tuple[str, str]]:
    # Check runs before authorisation, so Status says what the payment will become.
    return [*_money_and_card(txn, txn.created), ("Status", status), ("OperationType", "Payment"),
            *_optional(txn)]


def pay_fields(txn: Transaction) -> list[tuple[str, str]]:
    return [
        *_money_and_card(txn, txn.created),
        ("Status", txn.status),
        ("OperationType", "Payment"),
        ("GatewayName", "Test"),
        ("Token", txn.token or ""),
        ("AuthCode", txn.auth_code or ""),
        ("Rrn", txn.rrn or ""),
        ("TotalFee", "0.00"),
        *_optional(txn),
    ]


def fail_fields(txn: Transaction, reason: str) -> list[tuple[str, str]]:
    return [
        *_money_and_card(txn, txn.created),
        ("OperationType", "Payment"),
        ("Reason", reason),
        ("ReasonCode", str(txn.reason_code)),
        ("Token", txn.token or ""),
        *_optional(txn),
    ]


def confirm_fields(txn: Transaction) -> list[tuple[str, str]]:
    return [*_money_and_card(txn, txn.confirm_date or txn.created), ("Status", txn.status), *_optional(txn)]


def refund_fields(refund: Transaction, payment: Transaction) -> list[tuple[str, str]]:
    return [
        ("TransactionId", str(refund.id)),
        ("PaymentTransactionId", str(payment.id)),
        ("Amount", wire.form_amount(refund.amount)),
        ("DateTime", wire.form_datetime(refund.created)),
        ("OperationType", "Refund"),
        *_optional(payment),
    ]


def cancel_fields(txn: Transaction, when: datetime) -> list[tuple[str, str]]:
    return [
        ("TransactionId", str(txn.id)),
        ("Amount", wire.form_amount(txn.amount)),
        ("DateTime", wire.form_datetime(when)),
        *_optional(txn),
    ]


def recurrent_fields(overrides: dict, now: datetime) -> list[tuple[str, str]]:
    """A provider-side subscription's state; the sandbox has no subscriptions, so tests supply it."""
    defaults = {
        "Id": "sc_sandbox", "AccountId": "", "Description": "", "Email": "", "Amount": "0.00",
        "Currency": "RUB", "RequireConfirmation": "0", "StartDate": wire.form_datetime(now),
        "Interval": "Month", "Period": "1", "Status": "Active", "SuccessfulTransactionsNumber": "0",
        "FailedTransactionsNumber": "0", "MaxPeriods": "", "LastTransactionDate": "",
        "NextTransactionDate": wire.form_datetime(now),
    }
    extra = {str(k): v for k, v in overrides.items() if k not in defaults}
    merged = {**defaults, **{k: v for k, v in overrides.items() if k in defaults}, **extra}
    return [(key, _form_value(value)) for key, value in merged.items()]


def _form_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)
