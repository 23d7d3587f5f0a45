"""Invoices: what a customer owes for a period. The invoice id is the provider's InvoiceId; the number
(2026-000123, portal/models/numbering.py) is what customers and staff read."""
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import UTCDateTime, one_of, utcnow


@dataclass(frozen=True)
class InvoiceKind:
    """What an invoice of a kind is, in one table rather than in branches over its name."""

    card_check: bool = False  # authorised to prove a card, voided at once, never captured
    checkout: bool = False  # paid in the widget by the customer; lives CHECKOUT_LIFETIME, then closes
    reconciled: bool = False  # asked of the provider when its notification is late
    receipt: bool = True  # money is taken: the customer gets a receipt
    period_from_payment: bool = False  # buys a period that starts when it is paid (else it names its period)


KINDS = {
    "initial": InvoiceKind(checkout=True, reconciled=True, period_from_payment=True),  # the first period
    "renewal": InvoiceKind(),  # the next period, charged on the saved card
    "repay": InvoiceKind(),  # a balance paid again after a failed renewal
    "grant": InvoiceKind(receipt=False),  # complimentary days staff grant, for nothing
    # The small authorisation that checks a card before a trial.
    "verification": InvoiceKind(card_check=True, checkout=True, reconciled=True, receipt=False),
    # The same for a new card replacing a live subscription's saved one.
    "card_check": InvoiceKind(card_check=True, checkout=True, reconciled=True, receipt=False),
    # The prorated price of an upgrade; paying it moves the subscription to the invoice's plan.
    "proration": InvoiceKind(reconciled=True),
}
INVOICE_KINDS = tuple(KINDS)
CARD_CHECK_KINDS = tuple(k for k, kind in KINDS.items() if kind.card_check)
CHECKOUT_KINDS = tuple(k for k, kind in KINDS.items() if kind.checkout)
RECONCILED_KINDS = tuple(k for k, kind in KINDS.items() if kind.reconciled)
NO_RECEIPT_KINDS = tuple(k for k, kind in KINDS.items() if not kind.receipt)
INVOICE_STATUSES = ("open", "paid", "void", "refunded")


class Invoice(db.Model):
    __tablename__ = "invoices"
    NUMBERED_AS = "invoice"
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
    # Taken when the invoice is created (issued), every kind alike: the customer's history shows them all.
    number: Mapped[str | None] = mapped_column(String(16), unique=True)
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
        return f"<Invoice {self.id} {self.number} {self.kind} {self.status} {self.amount} {self.currency}>"
