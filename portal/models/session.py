"""Signed-in sessions, kept server-side so that signing out, a password change or a reset ends them."""
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import BigId, UTCDateTime, utcnow


class UserSession(db.Model):
    """One browser's sign-in. The cookie carries a random token; only its SHA-256 is stored, so a copy of
    this table signs nobody in."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    last_seen_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    ended_at = mapped_column(UTCDateTime)
    # "signed out", "signed out everywhere", "password changed", "password reset", ...
    end_reason: Mapped[str | None] = mapped_column(String(64))

    user = relationship("User")

    def __repr__(self):
        return f"<UserSession {self.id} user={self.user_id}{' ended' if self.ended_at else ''}>"
