"""Test data for the admin pages: real flows through the sandbox where money moves, factories elsewhere."""
from sqlalchemy import select

from portal.extensions import db
from portal.models import Invoice, Payment, Plan, StaffAction, Subscription
from tests.factories import make_customer, make_plan
from tests.flows.conftest import SUCCESS_CARD


def paid_subscription(billing, customer=None, plan_code="monthly", amount=29900, card=SUCCESS_CARD):
    """A subscription paid through the sandbox's widget, its notification processed by a real worker."""
    if db.session.scalar(select(Plan).where(Plan.code == plan_code)) is None:
        make_plan(code=plan_code, amount=amount)
    sub, invoice, params = billing.checkout(customer or make_customer(), plan_code)
    assert billing.pay(params, card=card)["Success"] is True
    billing.work()
    db.session.expire_all()
    sub = db.session.get(Subscription, sub.id)
    assert sub.status == "active"
    return sub


def completed_payment(sub) -> Payment:
    return db.session.scalars(select(Payment).join(Invoice, Invoice.id == Payment.invoice_id).where(
        Invoice.subscription_id == sub.id, Payment.status == "completed").order_by(Payment.id)).first()


def staff_actions():
    db.session.expire_all()
    return db.session.scalars(select(StaffAction).order_by(StaffAction.id)).all()
