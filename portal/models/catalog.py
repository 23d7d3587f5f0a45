"""The plan catalogue: what can be bought, at what price, for which period, named in each language."""
from sqlalchemy import CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.types import UTCDateTime, one_of, utcnow

INTERVAL_UNITS = ("day", "week", "month", "year")
PLAN_STATUSES = ("active", "archived")
PLAN_LANGUAGES = ("ru", "en")  # portal.templating.SUPPORTED_LOCALES; the first is the fallback


class Plan(db.Model):
    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("interval_count > 0", name="interval_positive"),
        one_of("interval_unit", INTERVAL_UNITS),
        one_of("status", PLAN_STATUSES),
        CheckConstraint("trial_days >= 0", name="trial_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_ru: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    description_ru: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    amount: Mapped[int] = mapped_column(Integer)  # minor units
    currency: Mapped[str] = mapped_column(String(3))
    interval_unit: Mapped[str] = mapped_column(String(8), default="month")
    interval_count: Mapped[int] = mapped_column(Integer, default=1)
    trial_days: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    def name_in(self, locale) -> str:
        """The plan's name in a language (a Babel Locale or its code); an unknown one reads Russian."""
        return getattr(self, f"name_{_language(locale)}")

    def description_in(self, locale) -> str:
        return getattr(self, f"description_{_language(locale)}")

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    def __repr__(self):
        return f"<Plan {self.code} {self.amount} {self.currency}/{self.interval_count} {self.interval_unit}>"


def _language(locale) -> str:
    code = str(locale or "").split("_")[0].split("-")[0].lower()
    return code if code in PLAN_LANGUAGES else PLAN_LANGUAGES[0]


class ProviderDefault(db.Model):
    """Which enabled payment provider a new checkout in this currency pays with, as staff chose it
    (every change is in the staff audit log). A currency without a row uses the first enabled provider."""

    __tablename__ = "provider_defaults"

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    changed_by: Mapped[str] = mapped_column(String(200))  # actor: "staff:3"
    changed_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
