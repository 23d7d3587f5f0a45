"""Catalogue queries and the demo catalogue."""
from sqlalchemy import select

from portal.extensions import db
from portal.models import Plan

DEMO_PLANS = (
    {"code": "monthly", "name": "Monthly", "amount": 29900, "currency": "RUB", "interval_unit": "month"},
    {"code": "yearly", "name": "Yearly", "amount": 299000, "currency": "RUB", "interval_unit": "year"},
    {
        "code": "premium",
        "name": "Premium",
        "amount": 59900,
        "currency": "RUB",
        "interval_unit": "month",
        "trial_days": 7,
    },
)


def active_plans() -> list[Plan]:
    return list(db.session.scalars(select(Plan).where(Plan.status == "active").order_by(Plan.amount, Plan.id)))


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
