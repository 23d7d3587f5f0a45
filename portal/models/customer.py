"""People: customers and staff, and the saved cards a customer pays with."""
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.types import EncryptedToken, UTCDateTime, token_fingerprint, utcnow

ROLES = ("customer", "staff")


class User(db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('customer', 'staff')", name="role"),
        # Staff search "email starts with": a LIKE prefix uses a btree only with pattern ops.
        Index("ix_users_email_prefix", "email", postgresql_ops={"email": "varchar_pattern_ops"}),
        # Staff search "email or name contains" (migration 0017 creates pg_trgm).
        Index("ix_users_email_trgm", "email", postgresql_using="gin", postgresql_ops={"email": "gin_trgm_ops"}),
        Index("ix_users_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}),
        # One web account and one platform customer per address. Both exist only while the web account's
        # email is unproven: the platform's customer is kept apart from it until the owner of the address
        # verifies it (portal/accounts.py, `claim_address`), so nobody takes a customer over by signing up
        # first with someone else's address.
        Index("uq_users_email_web", "email", unique=True, postgresql_where=text("external_id IS NULL"),
              sqlite_where=text("external_id IS NULL")),
        Index("uq_users_email_platform", "email", unique=True, postgresql_where=text("external_id IS NOT NULL"),
              sqlite_where=text("external_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320))  # lower-cased; None once anonymised
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="customer")
    # The platform's auth service id for this person; services address customers by it.
    external_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    anonymized_at = mapped_column(UTCDateTime)
    # When the person proved they read mail at `email` (a link we sent there); None: unproven.
    email_verified_at = mapped_column(UTCDateTime)
    # The language mails are written in ("ru", "en"); None: the portal's default.
    locale: Mapped[str | None] = mapped_column(String(8))
    # The IANA zone dates in mails are written in (Europe/Moscow when unknown: portal/mail/content.py).
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # Reminders (trial ending, renewal upcoming, card expiring) the customer may turn off; receipts and
    # security mails are always sent.
    reminder_mails: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # False when the platform mails this customer itself (bus customer.upsert): no billing mail at all.
    billing_mail: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    payment_methods = relationship("PaymentMethod", back_populates="owner", order_by="PaymentMethod.id")

    @property
    def is_staff(self) -> bool:
        return self.role == "staff"

    def __repr__(self):
        return f"<User {self.id} {self.role}>"


class PaymentMethod(db.Model):
    __tablename__ = "payment_methods"
    __table_args__ = (UniqueConstraint("user_id", "provider", "token_fingerprint", name="uq_payment_methods_card"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    token = mapped_column(EncryptedToken, nullable=False)
    token_fingerprint: Mapped[str] = mapped_column(String(64))
    card_first_six: Mapped[str | None] = mapped_column(String(6))
    card_last_four: Mapped[str | None] = mapped_column(String(4), index=True)
    card_type: Mapped[str | None] = mapped_column(String(32))
    card_exp: Mapped[str | None] = mapped_column(String(5))  # MM/YY
    card_issuer: Mapped[str | None] = mapped_column(String(64))  # the issuing bank, when the provider names it
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    owner = relationship("User", back_populates="payment_methods")

    @classmethod
    def for_token(cls, token: str, **fields) -> "PaymentMethod":
        return cls(token=token, token_fingerprint=token_fingerprint(token), **fields)

    @property
    def card_mask(self) -> str:
        return f"{self.card_type or 'Card'} •••• {self.card_last_four or '????'}"

