"""What the lifecycle rule tests (tests/test_money_rules_{subscription,invoice,payment}.py) share: rows of one
customer and plan, an event run in its own transaction, a refusal that must leave the row, its timeline and
the bus as they were."""
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.machines import TransitionNotAllowed, atomic, fire, lock
from portal.models import OutboxMessage, Payment, Refund, Transition, User
from tests.factories import make_invoice, make_plan, make_subscription

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)


_ids = iter(range(1, 10**9))


def platform_customer() -> User:
    """A customer the platform created and who never signs in here: no password, so no scrypt hash to pay for
    (a tenth of a second of CPU each)."""
    n = next(_ids)
    user = User(email=f"rules{n}@example.com", external_id=f"rules-{n}", role="customer")
    db.session.add(user)
    db.session.commit()
    return user


def subscription(status="pending"):
    """A subscription of the test's one customer and plan (the session, and what it remembers, is new in every
    test)."""
    owner = db.session.info.get("rules_owner")
    if owner is None:
        owner = db.session.info["rules_owner"] = (make_plan(), platform_customer())
    return make_subscription(status=status, plan=owner[0], customer=owner[1])


def invoice_row(status="open", **data):
    return make_invoice(subscription=subscription("active"), status=status, **data)




def run(row, event, **data):
    with atomic():
        fire(lock(type(row), row.id), event, actor="test", cause="rules", **data)
    db.session.expire_all()
    return db.session.get(type(row), row.id)


def refused(row, event, error=TransitionNotAllowed, **data):
    """The event is refused and the row, its timeline and the bus are as they were."""
    before = snapshot(row)
    with pytest.raises(error):
        run(row, event, **data)
    db.session.rollback()
    db.session.expire_all()
    assert snapshot(db.session.get(type(row), row.id)) == before, event


def snapshot(row):
    columns = {c.key: getattr(row, c.key) for c in type(row).__mapper__.column_attrs}
    return columns, timeline(row), events(row)


def timeline(row):
    return db.session.execute(select(Transition.from_state, Transition.to_state, Transition.event).where(
        Transition.entity_type == type(row).__name__.lower(), Transition.entity_id == row.id)
        .order_by(Transition.id)).all()


def events(row):
    return db.session.scalars(select(OutboxMessage.routing_key).where(
        OutboxMessage.aggregate_type == type(row).__name__.lower(), OutboxMessage.aggregate_id == row.id)
        .order_by(OutboxMessage.id)).all()


def payment(status="pending", amount=29900, refunded=0, needs_review=False, invoice=None):
    invoice = invoice or invoice_row(amount=amount)
    row = Payment(provider="sandbox", provider_transaction_id=f"tx-{next(_ids)}", invoice=invoice,
                  customer_id=invoice.customer_id, amount=amount, currency="RUB", status=status,
                  amount_refunded=refunded, needs_review=needs_review)
    db.session.add(row)
    db.session.commit()
    return row


def refund(status="pending"):
    row = Refund(payment=payment("completed"), provider="sandbox", amount=1000, currency="RUB", status=status,
                 requested_by="customer:1", provider_refund_id=f"rf-{next(_ids)}" if status != "pending" else None)
    db.session.add(row)
    db.session.commit()
    return row


