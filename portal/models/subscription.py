"""A customer's subscription to a plan: the aggregate every billing flow revolves around."""
from functools import cached_property

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import UTCDateTime, one_of, utcnow

SUBSCRIPTION_STATUSES = ("pending", "trialing", "active", "past_due", "paused", "canceled", "expired")
# The groups billing reasons with. Live: the one subscription a customer may hold at a time (it blocks a
# second checkout and can be cancelled). Entitled: may watch (past due keeps access while dunning runs).
ENTITLED_STATUSES = ("trialing", "active", "past_due")
LIVE_STATUSES = (*ENTITLED_STATUSES, "paused")
ENDED_STATUSES = ("canceled", "expired")
# Renewable: what the renewal run picks up at the period end (past due is dunning's, paused resumes first).
RENEWABLE_STATUSES = ("trialing", "active")


class Subscription(db.Model):
    __tablename__ = "subscriptions"
    __table_args__ = (
        one_of("status", SUBSCRIPTION_STATUSES),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("scheduled_amount IS NULL OR scheduled_amount >= 0", name="scheduled_amount_not_negative"),
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
    # A pause asked for: from the period end (pause_starts_at) until resumes_at; cleared on resume.
    pause_starts_at = mapped_column(UTCDateTime)
    resumes_at = mapped_column(UTCDateTime)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    canceled_at = mapped_column(UTCDateTime)
    ended_at = mapped_column(UTCDateTime)
    payment_method_id: Mapped[int | None] = mapped_column(ForeignKey("payment_methods.id"))
    # A downgrade waiting for the period end: the renewal moves the subscription to this plan.
    scheduled_plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    # A price staff moved the subscription to: it applies from the first renewal on or after
    # price_change_from (the notice the customer was given), portal/billing/prices.py.
    scheduled_amount: Mapped[int | None] = mapped_column(Integer)
    price_change_from = mapped_column(UTCDateTime)
    # Why the checkout offers no free trial although the plan has one ("card_used": this card had a trial
    # on another account), portal/billing/trials.py.
    trial_refusal: Mapped[str | None] = mapped_column(String(32))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)

    customer = relationship("User")
    plan = relationship("Plan", foreign_keys=[plan_id])
    scheduled_plan = relationship("Plan", foreign_keys=[scheduled_plan_id])
    payment_method = relationship("PaymentMethod")
    invoices = relationship("Invoice", back_populates="subscription", order_by="Invoice.id")

    @cached_property
    def machine(self):
        # Built on demand: SQLAlchemy skips __init__ on load, so no mixin can bind it earlier.
        from portal.machines.subscription import SubscriptionMachine

        return SubscriptionMachine.bind(self)

    def __repr__(self):
        return f"<Subscription {self.id} {self.status}>"


class TrialCard(db.Model):
    """A card that has had a free trial, by the fingerprint of what the provider tells about it (first six,
    last four, expiry, issuer): the same card cannot start a second trial on another account."""

    __tablename__ = "trial_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
