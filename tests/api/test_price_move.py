"""A price move staff scheduled is visible to the platform: the subscription's representation names the price and
the moment from which the first renewal bills it."""
from datetime import UTC, datetime

from portal import clock
from portal.billing import prices
from portal.machines import atomic
from tests.factories import make_plan, make_subscription


def test_a_scheduled_price_is_shown_with_the_end_of_its_notice(api):
    clock.freeze(datetime(2026, 12, 7, 10, 0, tzinfo=UTC))
    plan = make_plan("monthly", amount=29900)
    sub = make_subscription("active", plan=plan, period_days=30)
    assert api.get(f"/api/v1/subscriptions/{sub.id}").get_json()["scheduled_price"] is None
    plan.amount = 34900
    with atomic():
        prices.move_to_plan_price(sub.id, actor="staff:1", cause="2027 prices")

    body = api.get(f"/api/v1/subscriptions/{sub.id}").get_json()
    assert body["amount"] == 29900
    assert body["scheduled_price"] == {"amount": 34900, "effective_from": "2027-01-06T10:00:00Z"}
