"""Mail to people: each message written in the transaction that decided to send it, delivered by a job."""
from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.types import BigId, UTCDateTime, utcnow

# queued: waiting for its first try · sending: a job has it · retrying: a try failed, another is due
# sent: the server took it · failed: given up (a permanent refusal, or too many failed tries)
# A mail that could not be built from its event is stored as a record with no bodies (event_id set):
# unbuilt: a build failed, another is due · rebuilt: a later build made the mail (its own row) ·
# failed: given up after too many failed builds.
MAIL_STATUSES = ("queued", "sending", "retrying", "sent", "failed", "unbuilt", "rebuilt")


class OutgoingMail(db.Model):
    __tablename__ = "outgoing_mails"
    __table_args__ = (
        # One mail per purpose and subject (the thing it is about): a repeated event or job adds nothing.
        UniqueConstraint("purpose", "subject_key", name="uq_outgoing_mails_purpose_subject"),
        Index("ix_outgoing_mails_status_next_attempt", "status", "next_attempt_at"),
        # The staff customer page lists a customer's mails, newest first.
        Index("ix_outgoing_mails_user_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))  # verify_email, password_reset, account_exists, ...
    subject_key: Mapped[str] = mapped_column(String(200))
    to_address: Mapped[str] = mapped_column(String(320))
    # The customer it was written to (None: an address without an account, e.g. a sign-up attempt).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # A reminder's one-click unsubscribe address, sent as List-Unsubscribe (RFC 8058).
    unsubscribe_url: Mapped[str | None] = mapped_column(String(500))
    locale: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # When the sweeper hands the mail to a job if none has taken it by then (first try, retry, lost job).
    next_attempt_at = mapped_column(UTCDateTime, nullable=False)
    last_attempt_at = mapped_column(UTCDateTime)
    sent_at = mapped_column(UTCDateTime)
    # The outbox event a build-failure record stands for (its mails are built again from it); None for a
    # mail that was built.
    event_id: Mapped[int | None] = mapped_column(BigId)

    @property
    def is_build_record(self) -> bool:
        return self.event_id is not None


class SubscriptionReminder(db.Model):
    """A reminder event written for a subscription period (trial ending, renewal upcoming, card expiring):
    the unique key makes it once per period, however often the cron tick looks."""

    __tablename__ = "subscription_reminders"
    __table_args__ = (
        UniqueConstraint("subscription_id", "kind", "period_end", name="uq_subscription_reminders_period"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"))
    kind: Mapped[str] = mapped_column(String(32))
    period_end = mapped_column(UTCDateTime, nullable=False)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
