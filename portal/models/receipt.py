"""Fiscal receipts (54-FZ): the seller's details the tills need, and each receipt asked of a provider's
till with what it answered (the fiscal attributes the buyer checks)."""
from functools import cached_property

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import Json, UTCDateTime, one_of, utcnow

RECEIPT_STATUSES = ("pending", "registered", "failed")
RECEIPT_KINDS = ("income", "income_return")


class SellerSettings(db.Model):
    """One row: who sells, under which tax system, and how each plan's positions are marked. Without it
    no receipt is asked for (staff see why on the seller page and on each payment)."""

    __tablename__ = "seller_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(255))
    inn: Mapped[str] = mapped_column(String(12))
    taxation: Mapped[str] = mapped_column(String(24))
    vat_default: Mapped[str] = mapped_column(String(8))  # a Vat value or "general" (the basic rate of the day)
    vat_by_plan = mapped_column(Json, default=dict)  # plan code -> the same choices, where a plan differs
    payment_subject: Mapped[str] = mapped_column(String(32), default="service")
    payment_method: Mapped[str] = mapped_column(String(32), default="full_prepayment")
    receipts_email: Mapped[str] = mapped_column(String(254))
    address: Mapped[str] = mapped_column(Text, default="")  # legal address, printed on invoices
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class FiscalReceipt(db.Model):
    """One receipt asked of a till: приход with a payment, возврат прихода with a refund."""

    __tablename__ = "receipts"
    NUMBERED_AS = "receipt"
    __table_args__ = (
        one_of("status", RECEIPT_STATUSES),
        one_of("kind", RECEIPT_KINDS),
        # One income receipt per payment and one return receipt per refund, however often they are reported.
        Index("uq_receipts_payment_income", "payment_id", unique=True,
              postgresql_where=text("kind = 'income'"), sqlite_where=text("kind = 'income'")),
        UniqueConstraint("refund_id", name="uq_receipts_refund"),
        UniqueConstraint("provider", "provider_receipt_id", name="uq_receipts_provider_receipt"),
        Index("ix_receipts_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(16), unique=True)  # taken when the receipt is asked for
    provider: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"))
    amount: Mapped[int] = mapped_column(Integer)  # minor units
    currency: Mapped[str] = mapped_column(String(3))
    sent = mapped_column(Json)  # the receipt object exactly as it went on the provider's wire
    provider_receipt_id: Mapped[str | None] = mapped_column(String(64))
    fiscal_storage_number: Mapped[str | None] = mapped_column(String(16))  # ФН
    fiscal_document_number: Mapped[str | None] = mapped_column(String(16))  # ФД
    fiscal_sign: Mapped[str | None] = mapped_column(String(16))  # ФП
    register_number: Mapped[str | None] = mapped_column(String(20))  # РН ККТ
    registered_at = mapped_column(UTCDateTime)
    url: Mapped[str | None] = mapped_column(Text)  # the provider's web copy
    qr: Mapped[str | None] = mapped_column(Text)  # the QR string the tax service's app reads
    failure: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # status polls or registration tries
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    payment = relationship("Payment")
    refund = relationship("Refund")

    @cached_property
    def machine(self):
        from portal.machines.receipt import ReceiptMachine

        return ReceiptMachine.bind(self)
