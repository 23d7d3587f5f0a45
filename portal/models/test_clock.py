"""Test clocks (sandbox mode only): how far one customer's billing time runs ahead of the real one."""
from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.types import UTCDateTime, utcnow


class TestClock(db.Model):
    """A customer's clock: their renewals, trials, dunning and reminders run `offset_seconds` ahead."""

    __tablename__ = "test_clocks"
    __test__ = False  # not a pytest test class

    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    offset_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    advanced_by: Mapped[str] = mapped_column(String(200))  # "staff:3", "api:checkout"
    updated_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
