"""Helpers for the billing mail tests: a paid subscription, the mails stored, the mails that arrived."""
from sqlalchemy import select

from portal.extensions import db
from portal.models import Invoice, OutgoingMail, Subscription
from tests.factories import make_customer, make_plan
from tests.flows.conftest import SUCCESS_CARD


def paid_subscription(billing, card=SUCCESS_CARD, plan_code="monthly", customer=None, **plan):
    make_plan(code=plan_code, amount=plan.pop("amount", 29900), **plan)
    customer = customer or make_customer()
    sub, invoice, params = billing.checkout(customer, plan_code)
    assert billing.pay(params, card=card)["Success"] is True
    billing.work()
    db.session.expire_all()
    sub = db.session.get(Subscription, sub.id)
    assert sub.status == "active"
    return sub


def stored_mails(purpose=None):
    db.session.expire_all()
    stmt = select(OutgoingMail).order_by(OutgoingMail.id)
    if purpose is not None:
        stmt = stmt.where(OutgoingMail.purpose == purpose)
    return db.session.scalars(stmt).all()


def renewal_invoice(sub_id):
    db.session.expire_all()
    return db.session.scalar(select(Invoice).where(Invoice.subscription_id == sub_id, Invoice.kind == "renewal")
                             .order_by(Invoice.id.desc()).limit(1))


def by_subject(mailbox, to, subject):
    return [m for m in mailbox.messages(to) if m["Subject"] == subject]
