"""The payment provider interface billing codes against: typed results, errors and the abstract provider."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from portal.providers.receipt import FiscalAnswer, Receipt

# CloudPayments' notification kinds, kept under this name for the callers that import it from here.
NOTIFICATION_KINDS = ("check", "pay", "fail", "confirm", "refund", "recurrent", "cancel", "receipt")


class EventKind(StrEnum):
    """What a provider notification means to billing, whatever its provider calls it."""

    CHECK = "check"  # may this payment go ahead? (answered at once, never stored)
    PAYMENT_AUTHORIZED = "payment_authorized"
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_VOIDED = "payment_voided"
    REFUND_SUCCEEDED = "refund_succeeded"
    INFORMATIONAL = "informational"  # recorded, changes nothing (CloudPayments' Recurrent)
    RECEIPT_REPORTED = "receipt_reported"  # the till's answer for a fiscal receipt (Notification.fiscal)


class TransactionStatus(StrEnum):
    """A provider transaction's state in billing's words (each adapter maps its own statuses here)."""

    PENDING = "pending"
    AUTHORIZED = "authorized"
    COMPLETED = "completed"
    DECLINED = "declined"
    CANCELLED = "cancelled"


class DeclineCategory(StrEnum):
    """Why a card was declined, in the words dunning decides by."""

    INSUFFICIENT_FUNDS = "insufficient_funds"
    EXPIRED_CARD = "expired_card"
    DO_NOT_HONOR = "do_not_honor"
    NEVER_RETRY = "never_retry"  # lost, stolen, fraud, not permitted, autopayments revoked
    TRY_LATER = "try_later"  # issuer or provider unavailable, timeouts, limits
    THREE_DS_FAILED = "three_ds_failed"
    OTHER = "other"

    @property
    def retry_allowed(self) -> bool:
        """The neutral policy: the same card asked again later can only succeed for a passing reason."""
        return self not in (DeclineCategory.EXPIRED_CARD, DeclineCategory.DO_NOT_HONOR, DeclineCategory.NEVER_RETRY)


# What the customer is told for each category (the adapter may give a more precise message).
CATEGORY_MESSAGES = {
    DeclineCategory.INSUFFICIENT_FUNDS: "Insufficient funds",
    DeclineCategory.EXPIRED_CARD: "Card expired",
    DeclineCategory.DO_NOT_HONOR: "Payment declined by your bank",
    DeclineCategory.NEVER_RETRY: "Card declined. Contact your bank or use another card",
    DeclineCategory.TRY_LATER: "The payment could not be processed. Please try again later",
    DeclineCategory.THREE_DS_FAILED: "3-D Secure verification failed",
    DeclineCategory.OTHER: "Payment declined. Please try again or use another card",
}


@dataclass(frozen=True)
class Decline:
    """A declined payment in neutral terms: the category dunning uses, the provider's own code and words
    (for staff), the customer's message (ours, and the provider's for the card holder when it gives one) and
    whether the same card may be charged again later."""

    category: DeclineCategory
    code: int | None = None  # the provider's numeric reason code, when it has one
    reason: str | None = None  # the provider's reason as it gave it ("Insufficient funds", "card_expired")
    customer_message: str | None = None  # our words for the customer, by code or reason (pages translate them)
    retry_allowed: bool | None = None  # the provider's own advice; None: the category's policy
    # The provider's own message for the card holder, verbatim and in its language (CloudPayments'
    # CardHolderMessage), when it gives one; YooKassa gives only a reason, worded in customer_message.
    card_holder_message: str | None = None

    def __post_init__(self):
        if self.customer_message is None:
            object.__setattr__(self, "customer_message", CATEGORY_MESSAGES[self.category])
        if self.retry_allowed is None:
            object.__setattr__(self, "retry_allowed", self.category.retry_allowed)


@dataclass(frozen=True)
class CardSaved:
    """A card the provider keeps for later charges without the customer: the token and what may be shown."""

    token: str
    first_six: str | None = None
    last_four: str | None = None
    exp: str | None = None  # "MM/YY"
    card_type: str | None = None
    issuer: str | None = None


class CheckDecision(StrEnum):
    """Billing's answer to a provider asking whether a payment may go ahead (CloudPayments' Check)."""

    ACCEPT = "accept"
    UNKNOWN_INVOICE = "unknown_invoice"
    WRONG_ACCOUNT = "wrong_account"
    WRONG_AMOUNT = "wrong_amount"
    NOT_PAYABLE = "not_payable"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Reception:
    """What billing did with a notification, for the adapter to answer in its own protocol. `status` is
    the HTTP status billing means (200 stored or already stored, 400 unreadable, 401 not authentic, 404
    unknown kind, 413 too large); `check` is set for a Check."""

    status: int
    message: str | None = None
    check: CheckDecision | None = None


@dataclass(frozen=True)
class WebAnswer:
    """The HTTP answer a notification gets, as its provider expects it."""

    status: int
    body: dict | str = ""
    content_type: str = "application/json"


@dataclass(frozen=True)
class TokenCharge:
    """One charge (or hold) of a saved card, as billing asks it of any provider."""

    token: str
    amount_minor: int
    currency: str
    account_id: str
    invoice_id: str | int | None
    description: str
    email: str | None
    request_id: str  # the idempotency key: the same charge asked again gets the same answer
    customer_present: bool
    receipt: Receipt | None = None  # the fiscal receipt (54-FZ) the provider's till registers with it


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
    scheme: str = "charge"  # "auth": a card check, held and voided, never captured
    attempt: int = 1  # the invoice's payment attempt: a new attempt may need a new widget session
    locale: str | None = None  # "ru" | "en": the customer's language, for widgets that take one
    receipt: Receipt | None = None  # the fiscal receipt (54-FZ) the provider's till registers with it


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
    provider: str = ""  # the adapter's name: where follow-ups (refund, void) go
    decline: Decline | None = None  # set when status is declined
    card: CardSaved | None = None  # the card saved for later charges, when the provider saved one
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
    provider: str = ""
    event: EventKind | None = None
    decline: Decline | None = None
    card: CardSaved | None = None
    card_issuer: str | None = None
    fiscal: FiscalAnswer | None = None  # a receipt notification: what the till registered


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

    def __init__(self, transaction: Transaction, *, message: str | None = None):
        self.transaction = transaction
        self.decline = transaction.decline or Decline(DeclineCategory.OTHER, code=transaction.reason_code,
                                                      reason=transaction.reason)
        self.reason_code = transaction.reason_code
        self.customer_message = self.decline.customer_message
        self.retry_allowed = self.decline.retry_allowed
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
    """One card acquirer that takes first payments in a browser widget and later charges saved tokens.
    The adapter owns its protocol: it verifies, reads and answers its notifications, and maps its
    statuses and decline reasons to billing's neutral ones."""

    name: str
    widget_script_url: str
    # The paths under /webhooks/<name>/ its notifications come to: kinds, or None for one address.
    notification_kinds: tuple[str, ...] | None = None
    # Inbox kinds applied in batches by the drain job (see portal/billing/inbox.py).
    batched_kinds: tuple[str, ...] = ()
    # Inbox kinds that may pay an invoice, and those that tell a payment failed (one invoice, one charge).
    settling_kinds: tuple[str, ...] = ()
    failure_kinds: tuple[str, ...] = ()
    # Whether a notification is read as it came or must be confirmed by asking the API (see `confirmed`).
    confirms_notifications = False
    # Why a notification that fails verify_notification is refused (recorded with it, for staff).
    authentication_failure = "signature missing or invalid"

    @abstractmethod
    def widget_params(self, req: WidgetRequest) -> dict:
        """What the page's script gives to the provider's widget for this invoice."""

    @abstractmethod
    def verify_notification(self, raw_body: bytes, headers: Mapping[str, str],
                            remote_addr: str | None = None) -> bool:
        """Whether the notification is the provider's (its signature, or the address it came from)."""

    @abstractmethod
    def parse_notification(self, kind: str | None, raw_body: bytes, content_type: str | None) -> Notification:
        """Read a notification body into a Notification with its neutral event; raises InvalidNotification."""

    def inbox_kind(self, kind: str | None, raw_body: bytes, content_type: str | None) -> str | None:
        """The kind a notification is stored under, before it is parsed: the path's kind by default."""
        return kind

    def confirmed(self, notification: Notification) -> Notification:
        """The notification as the provider's API confirms it (a provider that does not sign its
        notifications is asked for the object before anything is applied). Signed ones are their own proof."""
        return notification

    @abstractmethod
    def answer(self, reception: Reception) -> WebAnswer:
        """The HTTP answer the provider expects for what billing did with its notification."""

    @abstractmethod
    def charge_token(self, charge: TokenCharge) -> Transaction:
        """One-step payment with a saved card; raises PaymentDeclined when the card is declined."""

    @abstractmethod
    def authorize_token(self, charge: TokenCharge) -> Transaction:
        """Hold money on a saved card, to be confirmed or voided later."""

    @abstractmethod
    def confirm(self, transaction_id: str, amount_minor: int, *, request_id: str) -> None:
        """Capture an authorized transaction."""

    @abstractmethod
    def void(self, transaction_id: str, *, request_id: str) -> None:
        """Release an authorized (or same-day) transaction."""

    @abstractmethod
    def refund(self, transaction_id: str, amount_minor: int, *, request_id: str,
               receipt: Receipt | None = None) -> RefundResult:
        """Return money of a completed payment, fully or partly (with its return receipt, if given)."""

    def receipt_payload(self, receipt: Receipt) -> dict:
        """The receipt as this provider's wire carries it (kept beside the payment, shown to staff)."""
        raise NotImplementedError(f"{self.name} carries no fiscal receipts")

    # Whether the till's answer must be asked for (YooKassa) rather than posted to us (CloudPayments).
    polls_receipts = False

    def receipt_answers(self, payment_transaction_id: str, refund_id: str | None = None) -> list[FiscalAnswer]:
        """The till's answers for the receipts of one payment (or of one of its refunds), when polled."""
        return []

    # Whether a receipt the till refused can be asked for again on its own, after the money moved.
    registers_receipts = False

    def register_receipt(self, payment_transaction_id: str, receipt: Receipt, *, refund_id: str | None = None,
                         request_id: str) -> FiscalAnswer:
        """Ask the till for a receipt of a payment (or refund) made already; the answer may still be pending."""
        raise ProviderError(f"{self.name} cannot register a receipt after the payment")

    @abstractmethod
    def find_by_invoice(self, invoice_id: str | int) -> Transaction | None:
        """The latest transaction for our invoice, or None when the provider has none."""

    @abstractmethod
    def get_transaction(self, transaction_id: str) -> Transaction | None:
        """One transaction by the provider's id, or None when unknown."""

    @classmethod
    def decline_of(cls, reason_code: int | None, reason: str | None) -> Decline:
        """A decline recorded with this provider's code or reason, in billing's words."""
        return Decline(DeclineCategory.OTHER, code=reason_code, reason=reason)

    @classmethod
    def customer_message(cls, reason_code: int | None, reason: str | None) -> str:
        """What the customer reads about a decline recorded with this code or reason."""
        return cls.decline_of(reason_code, reason).customer_message

    @classmethod
    def reason_name(cls, reason_code: int | None, reason: str | None) -> str | None:
        """The provider's name of a decline reason, for staff pages."""
        return reason


def request_id(*parts: object) -> str:
    """Stable idempotency key built from our own ids: request_id("invoice", 42, "attempt", 3)."""
    if not parts or any(part is None or str(part) == "" for part in parts):
        raise ValueError("request_id needs non-empty parts")
    return "-".join(str(part) for part in parts)
