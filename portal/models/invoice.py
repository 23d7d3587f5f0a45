"""Invoices: what a customer owes for a period. The invoice id is the provider's InvoiceId."""
from functools import cached_property

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import UTCDateTime, one_of, utcnow

# verification: the small authorisation that checks a card before a trial; voided, never captured.
# card_check: the same for a new card replacing a live subscription's saved one.
# proration: the prorated price of an upgrade; paying it moves the subscription to the invoice's plan.
INVOICE_KINDS = ("initial", "renewal", "repay", "grant", "verification", "card_check", "proration")
# Card checks are authorised, never captured; what a customer pays in the widget to start or change something.
CARD_CHECK_KINDS = ("verification", "card_check")
CHECKOUT_KINDS = ("initial", *CARD_CHECK_KINDS)
INVOICE_STATUSES = ("open", "paid", "void", "refunded")


class Invoice(db.Model):
    __tablename__ = "invoices"
    __table_args__ = (
        one_of("status", INVOICE_STATUSES),
        one_of("kind", INVOICE_KINDS),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("amount_refunded >= 0 AND amount_refunded <= amount", name="refund_within_amount"),
        # One renewal invoice per subscription period, whatever the number of cron ticks or workers.
        Index(
            "uq_invoices_renewal_period",
            "subscription_id",
            "period_start",
            unique=True,
            postgresql_where=text("kind = 'renewal'"),
            sqlite_where=text("kind = 'renewal'"),
        ),
        # Dunning and reconciliation scan open invoices by their next due moment.
        Index("ix_invoices_status_next_attempt", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    amount: Mapped[int] = mapped_column(Integer)  # minor units
    currency: Mapped[str] = mapped_column(String(3))
    amount_refunded: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str] = mapped_column(String(255), default="")
    period_start = mapped_column(UTCDateTime)
    period_end = mapped_column(UTCDateTime)
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at = mapped_column(UTCDateTime)
    # When dunning gives up on this invoice: set at its first failed renewal charge.
    dunning_ends_at = mapped_column(UTCDateTime)
    last_reason_code: Mapped[int | None] = mapped_column(Integer)
    checkout_started_at = mapped_column(UTCDateTime)
    # The provider transaction a Check let through for this invoice: another is refused while it is applied.
    reserved_transaction_id: Mapped[str | None] = mapped_column(String(64))
    reserved_provider: Mapped[str | None] = mapped_column(String(32))
    reserved_at = mapped_column(UTCDateTime)
    # A proration invoice: the plan its payment moves the subscription to.
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    paid_at = mapped_column(UTCDateTime)
    voided_at = mapped_column(UTCDateTime)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    subscription = relationship("Subscription", back_populates="invoices")
    customer = relationship("User")
    plan = relationship("Plan")
    payments = relationship("Payment", back_populates="invoice", order_by="Payment.id")

    @property
    def amount_refundable(self) -> int:
        return self.amount - self.amount_refunded if self.status == "paid" else 0

    @cached_property
    def machine(self):
        from portal.machines.invoice import InvoiceMachine

        return InvoiceMachine.bind(self)

    def __repr__(self):
        return f"<Invoice {self.id} {self.kind} {self.status} {self.amount} {self.currency}>"
