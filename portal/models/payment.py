"""Money that moved at the provider: payments (charges, declines) and refunds of them."""
from functools import cached_property

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import EncryptedJson, UTCDateTime, one_of, utcnow

PAYMENT_STATUSES = ("pending", "authorized", "completed", "declined", "voided")
REFUND_STATUSES = ("pending", "succeeded", "failed")


class Payment(db.Model):
    __tablename__ = "payments"
    __table_args__ = (
        # A provider transaction is recorded once, however many notifications and API answers report it.
        UniqueConstraint("provider", "provider_transaction_id", name="uq_payments_provider_transaction"),
        one_of("status", PAYMENT_STATUSES),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("amount_refunded >= 0 AND amount_refunded <= amount", name="refund_within_amount"),
        Index("ix_payments_customer_created", "customer_id", "created_at"),
        Index("ix_payments_status_created", "status", "created_at"),
        # Staff search by the transaction id alone, as they type it from the provider's cabinet.
        Index("ix_payments_provider_transaction_id", "provider_transaction_id"),
        # The staff review queue: the few payments needing review among all of them.
        Index("ix_payments_needs_review", "created_at", postgresql_where=text("needs_review"),
              sqlite_where=text("needs_review")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_transaction_id: Mapped[str] = mapped_column(String(64))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    amount_refunded: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason_code: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    # A decline's message for the card holder as the provider gave it (Decline.card_holder_message).
    card_holder_message: Mapped[str | None] = mapped_column(Text)
    card_first_six: Mapped[str | None] = mapped_column(String(6))
    card_last_four: Mapped[str | None] = mapped_column(String(4), index=True)
    card_type: Mapped[str | None] = mapped_column(String(32))
    test_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    # Money we hold that settled nothing (paid twice, another amount, currency or customer, no invoice of
    # ours): in the staff review queue until refunded, attached to the right invoice or dismissed.
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    review_reason: Mapped[str | None] = mapped_column(Text)
    review_resolution: Mapped[str | None] = mapped_column(String(16))  # refunded | attached | dismissed
    review_note: Mapped[str | None] = mapped_column(Text)
    # The provider's report of the transaction, encrypted at rest: it carries the card token.
    raw = mapped_column(EncryptedJson)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    invoice = relationship("Invoice", back_populates="payments")
    refunds = relationship("Refund", back_populates="payment", order_by="Refund.id")

    @property
    def settles_invoice(self) -> bool:
        """Whether this payment is what paid its invoice: never held for review, or attached to it by staff."""
        return not self.needs_review and self.review_resolution in (None, "attached")

    @property
    def card_mask(self) -> str | None:
        if not self.card_last_four:
            return None
        return f"{self.card_type or 'Card'} •••• {self.card_last_four}"

    @cached_property
    def machine(self):
        from portal.machines.payment import PaymentMachine

        return PaymentMachine.bind(self)


class Refund(db.Model):
    __tablename__ = "refunds"
    __table_args__ = (
        UniqueConstraint("provider", "provider_refund_id", name="uq_refunds_provider_refund"),
        one_of("status", REFUND_STATUSES),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_refund_id: Mapped[str | None] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(200))  # actor: "customer:12", "staff:3", "provider"
    failure: Mapped[str | None] = mapped_column(Text)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    payment = relationship("Payment", back_populates="refunds")

    @cached_property
    def machine(self):
        from portal.machines.refund import RefundMachine

        return RefundMachine.bind(self)
