"""Plans of every interval are charged and renewed on the calendar dates a person would expect: daily across a
leap day, weekly across a month end, yearly from 29 February."""
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import Invoice, Subscription
from tests.factories import make_customer, make_plan
from tests.flows.conftest import SUCCESS_CARD
from workers import ticks


def at(year, month, day):
    return datetime(year, month, day, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("unit,bought,ends", [
    ("day", at(2028, 2, 28), [at(2028, 2, 29), at(2028, 3, 1), at(2028, 3, 2)]),
    ("week", at(2027, 2, 23), [at(2027, 3, 2), at(2027, 3, 9), at(2027, 3, 16)]),
    ("year", at(2028, 2, 29), [at(2029, 2, 28), at(2030, 2, 28), at(2031, 2, 28)]),
])
def test_a_plan_renews_on_the_dates_of_its_interval_for_its_price(billing, unit, bought, ends):
    clock.freeze(bought)
    make_plan(code=f"every-{unit}", amount=12300, interval_unit=unit)
    sub, invoice, params = billing.checkout(make_customer(), f"every-{unit}")
    assert billing.pay(params, card=SUCCESS_CARD)["Success"] is True
    billing.work()
    db.session.expire_all()
    sub = db.session.get(Subscription, sub.id)
    seen = [sub.current_period_end]
    for _ in range(2):
        clock.freeze(sub.current_period_end + timedelta(minutes=1))
        ticks.renewals()
        billing.work()
        billing.assert_no_failed_jobs()
        db.session.expire_all()
        sub = db.session.get(Subscription, sub.id)
        seen.append(sub.current_period_end)
    assert (sub.status, seen) == ("active", ends)
    renewals = db.session.scalars(select(Invoice).where(Invoice.subscription_id == sub.id, Invoice.kind == "renewal")
                                  .order_by(Invoice.id)).all()
    assert [(i.status, i.amount, i.period_start, i.period_end) for i in renewals] == [
        ("paid", 12300, ends[0], ends[1]), ("paid", 12300, ends[1], ends[2])]
