"""Catalogue queries and the demo catalogue."""
from dataclasses import dataclass

from sqlalchemy import select

from portal.extensions import db
from portal.models import Plan

DEMO_PLANS = (
    {"code": "monthly", "name_ru": "Месячная", "name_en": "Monthly", "amount": 29900, "currency": "RUB",
     "interval_unit": "month"},
    {"code": "yearly", "name_ru": "Годовая", "name_en": "Yearly", "amount": 299000, "currency": "RUB",
     "interval_unit": "year"},
    {
        "code": "premium",
        "name_ru": "Премиум",
        "name_en": "Premium",
        "amount": 59900,
        "currency": "RUB",
        "interval_unit": "month",
        "trial_days": 7,
    },
)


def active_plans() -> list[Plan]:
    return list(db.session.scalars(select(Plan).where(Plan.status == "active").order_by(Plan.amount, Plan.id)))


@dataclass(frozen=True)
class YearlyPrice:
    """A yearly plan in monthly terms, against the cheapest monthly plan that would cost more over a year."""

    per_month: int  # minor units, rounded half up
    compared_to: Plan | None
    saving_percent: int | None  # whole percent, rounded down: never more than the real saving


def yearly_price(plan: Plan, plans: list[Plan]) -> YearlyPrice | None:
    """Yearly 2990.00 is 249.17 a month; against Monthly at 299.00 (3588.00 a year) it saves 16 %."""
    if plan.interval_unit != "year":
        return None
    months = 12 * plan.interval_count
    per_month = (2 * plan.amount + months) // (2 * months)
    dearer = [p for p in plans if p.interval_unit == "month" and p.interval_count == 1 and p.currency == plan.currency
              and p.amount * months > plan.amount]
    if not dearer:
        return YearlyPrice(per_month, None, None)
    monthly = min(dearer, key=lambda p: p.amount)
    a_year = monthly.amount * months
    return YearlyPrice(per_month, monthly, (a_year - plan.amount) * 100 // a_year)


def ensure_demo_catalogue() -> list[Plan]:
    """Create the demo plans that are missing; an existing plan is left as staff may have edited it."""
    plans = []
    for spec in DEMO_PLANS:
        plan = db.session.scalar(select(Plan).where(Plan.code == spec["code"]))
        if plan is None:
            plan = Plan(**{"interval_count": 1, "trial_days": 0, **spec})
            db.session.add(plan)
        plans.append(plan)
    db.session.flush()
    return plans
