"""Test data built through the real models and services."""
from datetime import timedelta
from itertools import count

from portal import clock
from portal.accounts import ensure_user
from portal.extensions import db
from portal.models import Invoice, Plan, Subscription

_seq = count(1)


def make_plan(code=None, amount=29900, currency="RUB", interval_unit="month", trial_days=0, status="active",
              name_ru=None, name_en=None):
    """Named after its code in both languages unless told otherwise."""
    name = (code or "Plan").title()
    plan = Plan(code=code or f"plan-{next(_seq)}", name_ru=name_ru or name, name_en=name_en or name, amount=amount,
                currency=currency, interval_unit=interval_unit, interval_count=1, trial_days=trial_days,
                status=status)
    db.session.add(plan)
    db.session.commit()
    return plan


def make_customer(email=None, external_id=None):
    n = next(_seq)
    user, _ = ensure_user(email or f"customer{n}@example.com", password="correct horse",
                          external_id=external_id or f"ext-{n}", verified=True)
    db.session.commit()
    return user


def make_subscription(status="pending", plan=None, customer=None, period_days=30):
    """A subscription already in `status`, as if its earlier transitions had happened."""
    plan = plan or make_plan()
    customer = customer or make_customer()
    start = clock.now()
    sub = Subscription(customer=customer, plan=plan, status=status, amount=plan.amount, currency=plan.currency)
    if status != "pending":
        sub.current_period_start, sub.current_period_end = start, start + timedelta(days=period_days)
    db.session.add(sub)
    db.session.commit()
    return sub


def make_invoice(subscription=None, status="open", kind="initial", amount=None, amount_refunded=0):
    sub = subscription or make_subscription()
    inv = Invoice(subscription=sub, customer_id=sub.customer_id, kind=kind, status=status,
                  amount=sub.amount if amount is None else amount, currency=sub.currency,
                  amount_refunded=amount_refunded, period_start=sub.current_period_start,
                  period_end=sub.current_period_end)
    db.session.add(inv)
    db.session.commit()
    return inv
