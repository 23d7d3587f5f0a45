"""A fiscal receipt (54-FZ) in billing's words: what each provider's till is asked to register with a
payment or a refund. Amounts are integer minor units; each adapter formats them for its wire."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ReceiptKind(StrEnum):
    """приход for a payment, возврат прихода for a refund."""

    INCOME = "income"
    INCOME_RETURN = "income_return"


class Taxation(StrEnum):
    """The seller's tax system (tag 1055)."""

    OSN = "osn"  # общая
    USN_INCOME = "usn_income"  # УСН доходы
    USN_INCOME_OUTCOME = "usn_income_outcome"  # УСН доходы − расходы
    ENVD = "envd"
    ESHN = "eshn"  # ЕСХН
    PATENT = "patent"


class Vat(StrEnum):
    """A position's VAT rate (tag 1199) as the receipt states it."""

    NONE = "none"  # без НДС
    VAT0 = "0"
    VAT10 = "10"
    VAT20 = "20"
    VAT22 = "22"
    VAT10_110 = "10/110"
    VAT20_120 = "20/120"
    VAT22_122 = "22/122"


class PaymentMethodSign(StrEnum):
    """Tag 1214: what the money settles."""

    FULL_PREPAYMENT = "full_prepayment"
    PARTIAL_PREPAYMENT = "partial_prepayment"
    ADVANCE = "advance"
    FULL_PAYMENT = "full_payment"
    PARTIAL_PAYMENT = "partial_payment"
    CREDIT = "credit"
    CREDIT_PAYMENT = "credit_payment"


class PaymentSubject(StrEnum):
    """Tag 1212: what is sold."""

    COMMODITY = "commodity"
    JOB = "job"
    SERVICE = "service"
    INTELLECTUAL_ACTIVITY = "intellectual_activity"
    PAYMENT = "payment"
    ANOTHER = "another"


NAME_LIMIT = 128  # characters of a position's name (tag 1030)


@dataclass(frozen=True)
class ReceiptLine:
    """One position: its unit price times its quantity is its total."""

    name: str
    price_minor: int
    quantity: int
    vat: Vat
    method: PaymentMethodSign
    subject: PaymentSubject

    def __post_init__(self):
        if not self.name.strip():
            raise ValueError("a receipt position needs a name")
        if self.price_minor < 0 or self.quantity <= 0:
            raise ValueError("a receipt position's price is not negative and its quantity is positive")
        object.__setattr__(self, "name", self.name[:NAME_LIMIT])

    @property
    def amount_minor(self) -> int:
        return self.price_minor * self.quantity


@dataclass(frozen=True)
class Receipt:
    """What a till registers: positions that add up to the money moved, the buyer's contact, the tax system."""

    kind: ReceiptKind
    lines: tuple[ReceiptLine, ...]
    currency: str
    taxation: Taxation
    email: str | None = None
    phone: str | None = None  # digits only, 79001234567

    def __post_init__(self):
        if not self.lines:
            raise ValueError("a receipt needs at least one position")
        if not (self.email or self.phone):
            raise ValueError("a receipt goes to the buyer's email or phone: neither is known")
        if self.total_minor <= 0:
            raise ValueError("a receipt's total is above zero")

    @property
    def total_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines)


class FiscalStatus(StrEnum):
    PENDING = "pending"
    REGISTERED = "registered"
    FAILED = "failed"


@dataclass(frozen=True)
class FiscalAnswer:
    """What a provider's till reported for one receipt: its fiscal attributes, or why it failed."""

    provider: str
    status: FiscalStatus
    kind: ReceiptKind
    payment_transaction_id: str | None  # the payment the receipt belongs to
    refund_id: str | None = None  # the provider's refund id, for a return receipt
    provider_receipt_id: str | None = None
    amount_minor: int | None = None
    fiscal_storage_number: str | None = None  # ФН
    fiscal_document_number: str | None = None  # ФД
    fiscal_sign: str | None = None  # ФП
    register_number: str | None = None  # РН ККТ
    registered_at: datetime | None = None
    url: str | None = None
    qr: str | None = None
    failure: str | None = None


def qr_string(registered_at: datetime, amount_minor: int, storage: str, document: str, sign: str,
              kind: ReceiptKind) -> str:
    """The QR code's text the tax service's app reads: t=20240501T1001&s=299.00&fn=…&i=…&fp=…&n=1."""
    return (f"t={registered_at:%Y%m%dT%H%M}&s={amount_minor // 100}.{amount_minor % 100:02d}&fn={storage}"
            f"&i={document}&fp={sign}&n={1 if kind == ReceiptKind.INCOME else 2}")
