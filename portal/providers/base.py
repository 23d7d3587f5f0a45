"""The payment provider interface billing codes against: typed results, errors and the abstract provider."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from portal.providers import reason_codes

NOTIFICATION_KINDS = ("check", "pay", "fail", "confirm", "refund", "recurrent", "cancel")


@dataclass(frozen=True)
class WidgetRequest:
    """What billing knows about an invoice when the customer opens the payment widget."""

    invoice_id: int
    amount_minor: int
    currency: str
    account_id: str
    email: str | None
    description: str
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Transaction:
    """A provider transaction as the provider's API reports it."""

    transaction_id: str
    status: str  # "authorized" | "completed" | "declined" | "cancelled" | other lowercase provider status
    amount_minor: int
    currency: str
    invoice_id: str | None
    account_id: str | None
    email: str | None
    token: str | None
    card_first_six: str | None
    card_last_four: str | None
    card_type: str | None
    card_exp: str | None  # "MM/YY"
    reason_code: int | None
    reason: str | None
    card_holder_message: str | None
    test_mode: bool
    created_at: datetime | None  # aware UTC
    raw: dict
    card_issuer: str | None = None  # the issuing bank's name, as the provider gives it


@dataclass(frozen=True)
class Notification:
    """A provider notification (webhook), parsed; `raw` keeps every field as the string it arrived as."""

    kind: str  # one of NOTIFICATION_KINDS
    transaction_id: str | None
    amount_minor: int | None
    currency: str | None
    invoice_id: str | None
    account_id: str | None
    email: str | None
    status: str | None  # lowercase, like Transaction.status
    operation_type: str | None  # lowercase: "payment" | "refund" | "cardpayout"
    reason: str | None
    reason_code: int | None
    token: str | None
    card_first_six: str | None
    card_last_four: str | None
    card_type: str | None
    card_exp: str | None
    payment_transaction_id: str | None  # Refund: the refunded payment
    occurred_at: datetime | None  # aware UTC
    test_mode: bool
    data: dict
    raw: dict
    card_issuer: str | None = None


@dataclass(frozen=True)
class RefundResult:
    refund_transaction_id: str
    amount_minor: int


class ProviderError(Exception):
    """The provider call failed and retrying the same request will not help."""

    def __init__(self, message: str, *, http_status: int | None = None):
        super().__init__(message)
        self.message = message
        self.http_status = http_status


class RetryableProviderError(ProviderError):
    """Throttled, provider-side failure or transport trouble: retry later with the SAME request id."""


class PaymentDeclined(ProviderError):
    """The provider processed the charge and the card issuer (or antifraud) declined it."""

    def __init__(
        self,
        transaction: Transaction,
        *,
        customer_message: str | None = None,
        retry_allowed: bool | None = None,
        message: str | None = None,
    ):
        self.transaction = transaction
        self.reason_code = transaction.reason_code
        self.customer_message = customer_message or reason_codes.customer_message(self.reason_code)
        self.retry_allowed = (
            reason_codes.retry_allowed(self.reason_code) if retry_allowed is None else retry_allowed
        )
        super().__init__(
            message
            or f"payment {transaction.transaction_id} declined: "
            f"{transaction.reason or 'no reason'} (code {self.reason_code})"
        )


class InvalidNotification(ProviderError):
    """A notification body that cannot be read as the provider's notification format. `transaction_id`
    is set when its key was readable: the notification can then be kept under that key and marked
    failed, for staff, instead of being refused (and retried by the provider for days)."""

    def __init__(self, message: str, *, transaction_id: str | None = None):
        super().__init__(message)
        self.transaction_id = transaction_id


class PaymentProvider(ABC):
    """One card acquirer that takes first payments in a browser widget and later charges saved tokens."""

    name: str
    widget_script_url: str

    @abstractmethod
    def widget_params(self, req: WidgetRequest) -> dict:
        """Options the page passes to the widget's pay('charge', options)."""

    @abstractmethod
    def verify_notification(self, raw_body: bytes, headers: Mapping[str, str]) -> bool:
        """Whether the notification's signature headers match its raw body."""

    @abstractmethod
    def parse_notification(self, kind: str, raw_body: bytes, content_type: str | None) -> Notification:
        """Read a notification body; raises InvalidNotification on a body that is not one."""

    @abstractmethod
    def charge_token(
        self,
        *,
        token: str,
        amount_minor: int,
        currency: str,
        account_id: str,
        invoice_id: str | int | None,
        description: str,
        email: str | None,
        request_id: str,
        customer_present: bool,
    ) -> Transaction:
        """One-step payment with a saved card; raises PaymentDeclined when the card is declined."""

    @abstractmethod
    def authorize_token(
        self,
        *,
        token: str,
        amount_minor: int,
        currency: str,
        account_id: str,
        invoice_id: str | int | None,
        description: str,
        email: str | None,
        request_id: str,
        customer_present: bool,
    ) -> Transaction:
        """Hold money on a saved card, to be confirmed or voided later."""

    @abstractmethod
    def confirm(self, transaction_id: str, amount_minor: int, *, request_id: str) -> None:
        """Capture an authorized transaction."""

    @abstractmethod
    def void(self, transaction_id: str, *, request_id: str) -> None:
        """Release an authorized (or same-day) transaction."""

    @abstractmethod
    def refund(self, transaction_id: str, amount_minor: int, *, request_id: str) -> RefundResult:
        """Return money of a completed payment, fully or partly."""

    @abstractmethod
    def find_by_invoice(self, invoice_id: str | int) -> Transaction | None:
        """The latest transaction for our invoice, or None when the provider has none."""

    @abstractmethod
    def get_transaction(self, transaction_id: str) -> Transaction | None:
        """One transaction by the provider's id, or None when unknown."""


def request_id(*parts: object) -> str:
    """Stable idempotency key built from our own ids: request_id("invoice", 42, "attempt", 3)."""
    if not parts or any(part is None or str(part) == "" for part in parts):
        raise ValueError("request_id needs non-empty parts")
    return "-".join(str(part) for part in parts)
