"""The subscription lifecycle (portal/machines/subscription.py) run fast with every record read back: each legal
transition lands with its timeline row and bus event, each illegal one is refused, each guard's refusal is
asserted, and every period, anchor and timestamp a callback sets is read from the database.

The tables of tests/test_machines.py run here one case after another in a single test (a row each, no emptying
of the database in between), so a mutation run checks them in seconds."""
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import OutboxMessage, PaymentMethod
from tests.factories import make_plan
from tests.lifecycle_rules import NOW, events, refused, run, subscription, timeline
from tests.published import published
from tests.test_machines import SUBSCRIPTION_ILLEGAL, SUBSCRIPTION_LEGAL, period


@pytest.fixture
def frozen(app):
    clock.freeze(NOW)
    yield NOW


def test_every_legal_subscription_transition_lands_with_its_timeline_row_and_bus_event(app):
    for source, event, args, target, announced in SUBSCRIPTION_LEGAL:
        sub = run(subscription(status=source), event, **args())
        assert sub.status == target, (source, event)
        assert timeline(sub) == [(source, target, event)], (source, event)
        assert events(sub) == ([announced] if announced else []), (source, event)


def test_every_illegal_subscription_event_is_refused_and_changes_nothing(app):
    for source, event in SUBSCRIPTION_ILLEGAL:
        sub = subscription(status=source)
        args = {"period_end": clock.now() + timedelta(days=60)} if event == "extend" else {
            **period(), "period_end": clock.now() + timedelta(days=60)}
        refused(sub, event, **args)


def test_a_trial_sets_its_end_as_the_anchor_of_every_paid_period(frozen):
    sub = run(subscription(), "start_trial", period_start=NOW, period_end=NOW + timedelta(days=14))
    assert (sub.current_period_start, sub.current_period_end, sub.trial_end, sub.billing_anchor) == (
        NOW, datetime(2027, 3, 24, 12, 0, tzinfo=UTC), datetime(2027, 3, 24, 12, 0, tzinfo=UTC),
        datetime(2027, 3, 24, 12, 0, tzinfo=UTC))
    # Converting keeps the trial's anchor.
    paid_end = datetime(2027, 4, 24, 12, 0, tzinfo=UTC)
    sub = run(sub, "activate", period_start=sub.current_period_end, period_end=paid_end)
    assert (sub.current_period_start, sub.current_period_end, sub.billing_anchor) == (
        datetime(2027, 3, 24, 12, 0, tzinfo=UTC), paid_end, datetime(2027, 3, 24, 12, 0, tzinfo=UTC))


def test_a_first_payment_anchors_the_periods_on_its_start_and_a_renewal_moves_the_period(frozen):
    end = datetime(2027, 4, 10, 12, 0, tzinfo=UTC)
    sub = run(subscription(), "activate", period_start=NOW, period_end=end)
    assert (sub.current_period_start, sub.current_period_end, sub.billing_anchor) == (NOW, end, NOW)
    later = datetime(2027, 5, 10, 12, 0, tzinfo=UTC)
    sub = run(sub, "renew", period_start=end, period_end=later)
    assert (sub.current_period_start, sub.current_period_end, sub.billing_anchor) == (end, later, NOW)


@pytest.mark.parametrize("event,source", [("activate", "pending"), ("renew", "active"), ("start_trial", "pending")])
def test_a_period_must_start_before_it_ends(frozen, event, source):
    sub = subscription(status=source)
    for start, end in ((None, NOW + timedelta(days=30)), (NOW, None), (NOW, NOW), (NOW, NOW - timedelta(seconds=1))):
        refused(sub, event, error=ValueError, period_start=start, period_end=end)
    sub = run(sub, event, period_start=NOW, period_end=NOW + timedelta(seconds=1))
    assert sub.current_period_end == NOW + timedelta(seconds=1)


def test_an_extension_must_move_the_period_end_later(frozen):
    for source, target in (("active", "active"), ("trialing", "trialing"), ("past_due", "active")):
        sub = subscription(status=source)
        end = sub.current_period_end
        for refused_end in (None, end, end - timedelta(days=1)):
            refused(sub, "extend", error=ValueError, period_end=refused_end)
        sub = run(sub, "extend", period_end=end + timedelta(seconds=1))
        assert (sub.status, sub.current_period_end, sub.current_period_start) == (
            target, end + timedelta(seconds=1), NOW)


@pytest.mark.parametrize("source", ["trialing", "active", "past_due"])
def test_a_cancel_at_period_end_is_scheduled_once_and_undone_once(app, source):
    sub = subscription(status=source)
    refused(sub, "undo_cancel")
    sub = run(sub, "schedule_cancel")
    assert (sub.status, sub.cancel_at_period_end) == (source, True)
    refused(sub, "schedule_cancel")
    sub = run(sub, "undo_cancel")
    assert (sub.status, sub.cancel_at_period_end) == (source, False)
    refused(sub, "undo_cancel")
    assert [e for _, _, e in timeline(sub)] == ["schedule_cancel", "undo_cancel"]


def test_a_pause_is_scheduled_from_the_period_end_once_and_not_while_a_cancel_is_scheduled(frozen):
    sub = subscription(status="active")
    end = sub.current_period_end
    refused(sub, "unschedule_pause")
    refused(sub, "pause")
    for resumes_at in (None, end, end - timedelta(days=1)):
        refused(sub, "schedule_pause", error=ValueError, resumes_at=resumes_at)
    sub = run(sub, "schedule_pause", resumes_at=end + timedelta(days=61))
    assert (sub.pause_starts_at, sub.resumes_at) == (end, end + timedelta(days=61))
    refused(sub, "schedule_pause", resumes_at=end + timedelta(days=90))
    sub = run(sub, "unschedule_pause")
    assert (sub.status, sub.pause_starts_at, sub.resumes_at) == ("active", None, None)

    canceling = run(subscription(status="active"), "schedule_cancel")
    refused(canceling, "schedule_pause", resumes_at=end + timedelta(days=61))


def test_resuming_starts_a_new_anchored_period_from_now_and_clears_the_pause(frozen):
    paused = subscription(status="paused")
    paused.pause_starts_at, paused.resumes_at = NOW - timedelta(days=10), NOW + timedelta(days=20)
    # The pause began at the period end it was asked from; a grant extended the period after it was asked.
    paused.current_period_end = NOW - timedelta(days=7)
    db.session.commit()
    sub = run(paused, "resume")
    assert (sub.status, sub.current_period_start, sub.current_period_end, sub.billing_anchor) == (
        "active", NOW - timedelta(days=10), NOW, NOW)
    assert (sub.pause_starts_at, sub.resumes_at) == (None, None)
    assert events(sub) == ["subscription.resumed"]


def test_resuming_a_pause_without_its_start_closes_the_stretch_from_the_period_end(frozen):
    paused = subscription(status="paused")
    paused.current_period_end = NOW - timedelta(days=3)
    paused.pause_starts_at = None
    db.session.commit()
    sub = run(paused, "resume")
    assert (sub.current_period_start, sub.current_period_end, sub.billing_anchor) == (
        NOW - timedelta(days=3), NOW, NOW)


def test_resuming_before_the_pause_began_never_ends_the_period_before_it_started(frozen):
    paused = subscription(status="paused")
    paused.pause_starts_at = paused.current_period_end = NOW + timedelta(days=2)
    db.session.commit()
    sub = run(paused, "resume")
    assert (sub.current_period_start, sub.current_period_end, sub.billing_anchor) == (
        NOW + timedelta(days=2), NOW + timedelta(days=2), NOW + timedelta(days=2))


def test_a_card_replacement_needs_the_new_card_and_is_taken_in_every_live_state(app):
    sub = subscription(status="active")
    refused(sub, "replace_card", error=ValueError, payment_method=None)
    for state in ("trialing", "active", "past_due", "paused"):
        sub = subscription(status=state)
        card = PaymentMethod.for_token(f"tk_{state}", user_id=sub.customer_id, provider="sandbox",
                                       card_last_four="3055")
        db.session.add(card)
        db.session.commit()
        sub = run(sub, "replace_card", payment_method=card)
        assert (sub.status, sub.payment_method_id, timeline(sub)) == (state, card.id,
                                                                      [(state, state, "replace_card")])
        [told] = published("subscription.card_replaced", sub.id)
        assert (told["status"], told["card"]) == (state, {"mask": card.card_mask, "exp": None})


def test_a_scheduled_pause_pauses_the_subscription_at_its_period_end_and_announces_it(frozen):
    sub = run(subscription(status="active"), "schedule_pause", resumes_at=NOW + timedelta(days=90))
    sub = run(sub, "pause")
    assert (sub.status, events(sub)) == ("paused", ["subscription.pause_scheduled", "subscription.paused"])


def test_a_plan_change_moves_to_the_new_plans_price_and_keeps_the_period_unless_given_one(frozen):
    sub = subscription(status="active")
    old_plan, start, end, anchor = sub.plan, sub.current_period_start, sub.current_period_end, sub.billing_anchor
    premium = make_plan(amount=49900)
    sub.scheduled_plan_id = make_plan(amount=9900).id
    db.session.commit()
    sub = run(sub, "change_plan", plan=premium)
    assert (sub.plan_id, sub.amount, sub.scheduled_plan_id) == (premium.id, 49900, None)
    assert (sub.current_period_start, sub.current_period_end, sub.billing_anchor) == (start, end, anchor)
    [message] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.aggregate_id == sub.id)).all()
    assert (message.payload["plan"]["code"], message.payload["previous_plan"]["code"]) == (premium.code,
                                                                                           old_plan.code)


@pytest.mark.parametrize("event", ["change_plan", "schedule_plan_change"])
def test_a_plan_change_needs_another_plan_of_the_same_currency(app, event):
    sub = subscription(status="active")
    for plan in (None, sub.plan, make_plan(currency="USD")):
        refused(sub, event, error=ValueError, plan=plan)
    other = make_plan(amount=9900)
    sub = run(sub, event, plan=other)
    assert other.id in (sub.plan_id, sub.scheduled_plan_id)


@pytest.mark.parametrize("source", ["trialing", "active", "past_due"])
def test_a_scheduled_plan_change_is_undone_only_once_scheduled(app, source):
    sub = subscription(status=source)
    refused(sub, "unschedule_plan_change")
    sub.scheduled_plan_id = make_plan(amount=9900).id
    db.session.commit()
    sub = run(sub, "unschedule_plan_change")
    assert (sub.status, sub.scheduled_plan_id) == (source, None)
    [told] = published("subscription.plan_change_undone", sub.id)
    assert (told["scheduled_plan"], told["undone_plan"]["amount"]) == (None, 9900)


def test_a_scheduled_plan_change_is_recorded_on_the_subscription(app):
    sub = subscription(status="trialing")
    cheaper = make_plan(amount=9900)
    sub = run(sub, "schedule_plan_change", plan=cheaper)
    assert (sub.status, sub.plan_id != cheaper.id, sub.scheduled_plan_id) == ("trialing", True, cheaper.id)
    [told] = published("subscription.plan_change_scheduled", sub.id)
    assert (told["plan"]["code"], told["scheduled_plan"]["code"]) == (sub.plan.code, cheaper.code)


def test_cancel_and_expiry_record_when_the_subscription_ended(frozen):
    canceled = run(subscription(status="active"), "cancel")
    assert (canceled.canceled_at, canceled.ended_at) == (NOW, NOW)
    expired = run(subscription(status="past_due"), "expire")
    assert (expired.canceled_at, expired.ended_at) == (None, NOW)


def test_a_change_to_another_interval_starts_its_own_period_and_anchor(frozen):
    sub = subscription(status="active")
    yearly = make_plan(amount=299000, interval_unit="year")
    end = datetime(2028, 3, 10, 12, 0, tzinfo=UTC)
    refused(sub, "change_plan", error=ValueError, plan=yearly, period_start=NOW, period_end=NOW)
    sub = run(sub, "change_plan", plan=yearly, period_start=NOW, period_end=end)
    assert (sub.plan_id, sub.amount, sub.current_period_start, sub.current_period_end, sub.billing_anchor) == (
        yearly.id, 299000, NOW, end, NOW)


def test_a_price_change_needs_a_price_and_a_date_and_applies_only_once_scheduled(frozen):
    sub = subscription(status="active")
    refused(sub, "apply_price_change")
    for amount, effective_from in ((None, NOW), (-1, NOW), (34900, None)):
        refused(sub, "schedule_price_change", error=ValueError, amount=amount, effective_from=effective_from)
    sub = run(sub, "schedule_price_change", amount=0, effective_from=NOW + timedelta(days=30))
    assert (sub.scheduled_amount, sub.price_change_from) == (0, NOW + timedelta(days=30))
    sub = run(sub, "schedule_price_change", amount=34900, effective_from=NOW + timedelta(days=31))
    assert events(sub)[-1] == "subscription.price_change_scheduled"
    sold_at = sub.amount
    sub = run(sub, "apply_price_change")
    assert (sub.amount, sub.scheduled_amount, sub.price_change_from) == (34900, None, None)
    [told] = published("subscription.price_change_applied", sub.id)
    assert (told["amount"], told["previous_price"]) == (34900, {"amount": sold_at, "currency": sub.currency})
    refused(sub, "apply_price_change")
    # A trial's first charge is at the new price too; nowhere else is a price applied.
    trial = run(subscription(status="trialing"), "schedule_price_change", amount=34900, effective_from=NOW)
    assert run(trial, "apply_price_change").amount == 34900
    for status in ("past_due", "paused"):
        refused(run(subscription(status=status), "schedule_price_change", amount=34900, effective_from=NOW),
                "apply_price_change")


def test_a_plan_change_supersedes_a_scheduled_price_change(frozen):
    sub = run(subscription(status="active"), "schedule_price_change", amount=34900, effective_from=NOW)
    premium = make_plan(amount=49900)
    sub = run(sub, "change_plan", plan=premium)
    assert (sub.amount, sub.scheduled_amount, sub.price_change_from) == (49900, None, None)


def test_a_card_is_removed_only_where_there_is_one_and_a_refused_trial_keeps_its_reason(app):
    for status in ("trialing", "active", "past_due", "paused"):
        sub = subscription(status=status)
        refused(sub, "remove_card")
        card = PaymentMethod.for_token(f"tk_lost_{status}", user_id=sub.customer_id, provider="sandbox",
                                       card_last_four="3055")
        db.session.add(card)
        db.session.commit()
        sub = run(run(sub, "replace_card", payment_method=card), "remove_card")
        assert (sub.status, sub.payment_method_id) == (status, None)
        assert [told["card"] for told in published("subscription.card_removed", sub.id)] == [None]
    pending = subscription(status="pending")
    refused(pending, "refuse_trial", error=ValueError, reason="")
    pending = run(pending, "refuse_trial", reason="card_used")
    assert (pending.status, pending.trial_refusal) == ("pending", "card_used")
    [told] = published("subscription.trial_refused", pending.id)
    assert (told["status"], told["trial_refusal"]) == ("pending", "card_used")
