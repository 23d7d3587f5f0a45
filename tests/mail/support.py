"""Helpers for the billing mail tests: a paid subscription, the mails stored, the mails that arrived."""
from datetime import timedelta

from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import Invoice, OutgoingMail
from tests.admin.support import paid_subscription
from tests.flows.conftest import LATER_DECLINED_CARD
from workers import ticks


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


def declined_renewal(billing, customer):
    """A paid subscription whose first renewal charge the card declined (insufficient funds): past due."""
    sub = paid_subscription(billing, card=LATER_DECLINED_CARD, customer=customer)
    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    return sub
