"""Pause and resume: from the period end for one to three months, no access and no charge meanwhile, back
by itself (or earlier on request) with a new period, anchored at the resume, charged on the saved card."""
from datetime import timedelta

from sqlalchemy import select

from portal import clock
from portal.billing.entitlement import entitlement
from portal.billing.periods import add_interval
from portal.extensions import db
from portal.models import Invoice, OutboxMessage, Subscription
from tests.account.support import subscribe
from tests.auth.helpers import post, signed_in_customer
from tests.dates import english_day
from tests.factories import make_plan
from tests.published import published
from workers import ticks


def page(client, path="/account"):
    return client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)


def reload(sub):
    db.session.expire_all()
    return db.session.get(Subscription, sub.id)


def events(*keys):
    return db.session.scalars(select(OutboxMessage.routing_key).where(OutboxMessage.routing_key.in_(keys))
                              .order_by(OutboxMessage.id)).all()


def renewals(sub):
    return db.session.scalars(select(Invoice).where(Invoice.subscription_id == sub.id, Invoice.kind == "renewal")
                              .order_by(Invoice.id)).all()


def paused_customer(client, billing, months=2):
    make_plan(code="monthly", amount=29900)
    signed_in_customer(client)
    sub, _, _ = subscribe(client, billing, "monthly")
    assert 'id="pause-form"' in page(client)
    assert post(client, f"/account/subscriptions/{sub.id}/pause", {"months": str(months)}).status_code == 303
    billing.work()
    return reload(sub)


def test_a_pause_starts_at_the_period_end_and_ends_by_itself_with_a_new_anchored_period(client, billing):
    sub = paused_customer(client, billing, months=2)
    period_end = sub.current_period_end
    two_months_later = add_interval(period_end, "month", 2)
    assert (sub.status, sub.pause_starts_at, sub.resumes_at) == ("active", period_end, two_months_later)
    html = page(client)
    assert 'id="pause-scheduled"' in html and "You keep access until the pause starts." in html
    # Nothing is charged at the period end: the next charge is the resume's.
    assert f"RUB 299.00 on {english_day(two_months_later)}" in html
    [told] = published("subscription.pause_scheduled", sub.id)  # the bus hears of it when it is asked for
    assert told["pause"] == {"starts_at": period_end.isoformat(), "resumes_at": two_months_later.isoformat()}
    assert told["status"] == "active"

    # At the period end: paused instead of renewed, nothing charged, no access.
    clock.freeze(period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    sub = reload(sub)
    assert sub.status == "paused" and renewals(sub) == []
    assert events("subscription.paused") == ["subscription.paused"]
    found = entitlement(sub.customer.external_id)
    assert (found.entitled, found.status) == (False, "paused")
    assert 'id="paused"' in page(client) and "Paused until" in page(client)
    ticks.pause_ends()  # not over yet
    billing.work()
    assert reload(sub).status == "paused"

    # When the pause ends: a new period from that moment, charged on the saved card.
    resumed_at = sub.resumes_at + timedelta(minutes=3)
    clock.freeze(resumed_at)
    ticks.pause_ends()
    billing.work()
    billing.work()
    billing.assert_no_failed_jobs()
    sub = reload(sub)
    [renewal] = renewals(sub)
    assert (sub.status, renewal.status, renewal.amount) == ("active", "paid", 29900)
    assert sub.billing_anchor == resumed_at == renewal.period_start == sub.current_period_start
    assert sub.current_period_end == add_interval(resumed_at, "month")
    assert (sub.pause_starts_at, sub.resumes_at) == (None, None)
    assert events("subscription.paused", "subscription.resumed") == ["subscription.paused", "subscription.resumed"]
    assert entitlement(sub.customer.external_id).entitled is True


def test_the_customer_resumes_early_and_pays_a_period_from_now(client, billing):
    sub = paused_customer(client, billing, months=3)
    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    early = sub.current_period_end + timedelta(days=10)
    clock.freeze(early)
    html = page(client)
    assert "Resume now and pay RUB 299.00" in html
    assert post(client, f"/account/subscriptions/{sub.id}/resume").status_code == 303
    billing.work()
    billing.work()
    sub = reload(sub)
    assert sub.status == "active" and sub.current_period_start == early == sub.billing_anchor
    assert [i.status for i in renewals(sub)] == ["paid"]


def test_a_scheduled_pause_can_be_taken_back_and_the_period_renews_as_usual(client, billing):
    sub = paused_customer(client, billing, months=1)
    assert post(client, f"/account/subscriptions/{sub.id}/resume").status_code == 303
    billing.work()
    sub = reload(sub)
    assert (sub.pause_starts_at, sub.resumes_at) == (None, None)
    [taken_back] = published("subscription.pause_undone", sub.id)
    assert (taken_back["status"], taken_back["pause"]) == ("active", None)
    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    sub = reload(sub)
    assert sub.status == "active" and [i.status for i in renewals(sub)] == ["paid"]
    assert events("subscription.paused") == []


def test_a_pause_is_refused_with_a_reason_when_it_cannot_be_taken(client, billing):
    from portal.billing.errors import InvalidRequest, NotAllowed
    from portal.billing.pauses import request_pause

    sub = paused_customer(client, billing, months=1)
    for months, error in [(0, InvalidRequest), (4, InvalidRequest), (1, NotAllowed)]:  # the last: scheduled already
        try:
            request_pause(sub.id, months, actor="customer:1", cause="test")
        except error as exc:
            assert str(exc)
        else:
            raise AssertionError(f"a pause of {months} months was accepted")
    refused = post(client, f"/account/subscriptions/{sub.id}/pause", {"months": "7"})
    assert refused.status_code == 303 and reload(sub).resumes_at == add_interval(sub.current_period_end, "month", 1)


def test_a_paused_subscription_blocks_a_second_checkout_and_can_be_cancelled(client, billing):
    from portal.billing.cancellation import cancel

    sub = paused_customer(client, billing)
    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    refused = post(client, "/account/checkout", {"plan": "monthly"})
    assert refused.status_code == 303 and "/account/pay/" not in refused.headers["Location"]
    cancel(sub.id, "now", actor="customer:1", cause="test")
    assert reload(sub).status == "canceled"


def test_a_card_expiring_during_the_pause_is_flagged_against_the_resume_charge(client, billing):
    sub = paused_customer(client, billing, months=3)
    period_end = sub.current_period_end
    clock.freeze(period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    sub = reload(sub)
    assert sub.status == "paused" and 'id="card-expiring"' not in page(client)  # good until 12/30

    # The card's last month is after the old period end but before the resume charges it.
    during_pause = add_interval(period_end, "month", 1)
    sub.payment_method.card_exp = f"{during_pause.month:02d}/{during_pause.year % 100:02d}"
    db.session.commit()
    html = page(client)
    assert 'id="card-expiring"' in html
    resume_day = english_day(sub.resumes_at)
    assert f"Your card expires before the next charge on {resume_day}" in html, html
