"""A customer's subscription to a plan: the aggregate every billing flow revolves around."""
from functools import cached_property

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import UTCDateTime, utcnow

SUBSCRIPTION_STATUSES = ("pending", "trialing", "active", "past_due", "canceled", "expired")


class Subscription(db.Model):
    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'trialing', 'active', 'past_due', 'canceled', 'expired')", name="status"
        ),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        # Renewal cron scans live subscriptions by period end.
        Index("ix_subscriptions_status_period_end", "status", "current_period_end"),
        Index("ix_subscriptions_customer_status", "customer_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # The price agreed at checkout: a later change of the plan's price does not touch it.
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    current_period_start = mapped_column(UTCDateTime)
    current_period_end = mapped_column(UTCDateTime)
    trial_end = mapped_column(UTCDateTime)
    # Where every paid period is counted from (portal/billing/periods.py): the first paid period's start.
    billing_anchor = mapped_column(UTCDateTime)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    canceled_at = mapped_column(UTCDateTime)
    ended_at = mapped_column(UTCDateTime)
    payment_method_id: Mapped[int | None] = mapped_column(ForeignKey("payment_methods.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)

    customer = relationship("User")
    plan = relationship("Plan")
    payment_method = relationship("PaymentMethod")
    invoices = relationship("Invoice", back_populates="subscription", order_by="Invoice.id")

    @cached_property
    def machine(self):
        # Built on demand: SQLAlchemy skips __init__ on load, so no mixin can bind it earlier.
        from portal.machines.subscription import SubscriptionMachine

        return SubscriptionMachine.bind(self)

    def __repr__(self):
        return f"<Subscription {self.id} {self.status}>"
