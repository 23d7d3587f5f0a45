"""Inboxes and the outbox: how outside messages come in once and our events go out once."""
from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.types import BigId, EncryptedBytes, Json, UTCDateTime, utcnow


class WebhookEvent(db.Model):
    """A provider notification as received: raw body kept (encrypted: it carries the card token), so
    nothing sent is ever lost."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        # Repeats of one notification collapse onto one row. Rejected (forged) posts don't take the key,
        # so a forger can never block the genuine notification.
        Index(
            "uq_webhook_events_notification",
            "provider",
            "kind",
            "transaction_id",
            unique=True,
            postgresql_where=text("status <> 'rejected'"),
            sqlite_where=text("status <> 'rejected'"),
        ),
        Index("ix_webhook_events_status_received", "status", "received_at"),
        # The inbox's drains claim the oldest never-tried notifications (portal/billing/inbox.py): in id order
        # from this index a claim reads the rows it takes, not every row of a backlog to sort them.
        Index("ix_webhook_events_untried", "id", postgresql_where=text("status = 'received' AND attempts = 0"),
              sqlite_where=text("status = 'received' AND attempts = 0")),
        # A flood of refused posts is counted, not stored: one row per address, address kind and reason a minute.
        Index(
            "uq_webhook_events_rejections",
            "provider",
            "kind",
            "remote_addr",
            "rejection",
            "rejection_window",
            unique=True,
            postgresql_where=text("status = 'rejected'"),
            sqlite_where=text("status = 'rejected'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    # The provider's notification kind: CloudPayments' path ("pay"), YooKassa's event ("payment.succeeded").
    kind: Mapped[str] = mapped_column(String(40))
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    invoice_id: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="received")  # received, processed, failed, rejected
    rejection: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    content_type: Mapped[str | None] = mapped_column(String(128))
    # Everything a stored notification sent; of a rejected post, only its first REJECTED_BODY_PREFIX bytes.
    body: Mapped[bytes] = mapped_column(EncryptedBytes)
    body_length: Mapped[int | None] = mapped_column(BigInteger)
    body_sha256: Mapped[str | None] = mapped_column(String(64))
    # Rejected posts from one address for one reason within one minute (rejection_window) share a row.
    # Server-side default only: the inbox INSERT runs without SQLAlchemy's Python-side defaults.
    rejected_count: Mapped[int] = mapped_column(Integer, server_default="1")
    rejection_window = mapped_column(UTCDateTime)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    received_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    processed_at = mapped_column(UTCDateTime)


class BusMessage(db.Model):
    """A command received from RabbitMQ, deduplicated on the message id."""

    __tablename__ = "bus_inbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(128), unique=True)
    command: Mapped[str] = mapped_column(String(64))
    payload = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16), default="received")  # received, processed, failed
    error: Mapped[str | None] = mapped_column(Text)
    received_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    processed_at = mapped_column(UTCDateTime)


class OutboxMessage(db.Model):
    """An event for the bus, written in the transaction that caused it; relayed later."""

    __tablename__ = "outbox"
    __table_args__ = (
        # The relay claims the oldest unpublished rows.
        Index(
            "ix_outbox_unpublished",
            "id",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
        # The mail dispatcher claims the events whose mails are not built yet (portal/mail/events.py).
        Index("ix_outbox_unmailed", "id", postgresql_where=text("mailed_at IS NULL"),
              sqlite_where=text("mailed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    routing_key: Mapped[str] = mapped_column(String(64))
    aggregate_type: Mapped[str] = mapped_column(String(32))
    aggregate_id: Mapped[int] = mapped_column()
    payload = mapped_column(Json, nullable=False)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    published_at = mapped_column(UTCDateTime)
    publish_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # When the mails this event causes were built (none is also built): independent of the bus relay.
    mailed_at = mapped_column(UTCDateTime)

    @property
    def envelope(self) -> dict:
        return {
            "id": str(self.id),
            "type": self.routing_key,
            "occurred_at": self.created_at.isoformat(),
            "data": self.payload,
        }


class IdempotencyKey(db.Model):
    """A JSON API POST remembered by its Idempotency-Key, so a retried request gets the first answer."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("client", "key", name="uq_idempotency_keys_client_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body = mapped_column(Json)
    locked: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False, index=True)
