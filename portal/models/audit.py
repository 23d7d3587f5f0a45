"""The audit trail: every lifecycle transition, and every action staff took."""
from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.types import BigId, Json, UTCDateTime, utcnow


class Transition(db.Model):
    """One row per state change, written in the same transaction as the change itself."""

    __tablename__ = "transitions"
    __table_args__ = (Index("ix_transitions_entity", "entity_type", "entity_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(32))  # subscription, invoice, payment, refund
    entity_id: Mapped[int] = mapped_column()
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))  # "job:renewal", "staff:3", "customer:12", "provider"
    cause: Mapped[str] = mapped_column(Text, default="")  # which notification, bus message or request
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class StaffAction(db.Model):
    """What a staff member did, when, from where: shown on the admin audit page."""

    __tablename__ = "staff_audit_log"
    __table_args__ = (Index("ix_staff_audit_log_target", "target_type", "target_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64))
    details = mapped_column(Json, default=dict)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False, index=True)
