"""The subscription and invoice lifecycles: every legal and every illegal transition, and their audit."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal import clock
from portal.extensions import db
from portal.machines import TransitionNotAllowed, atomic, fire, lock
from portal.machines.invoice import InvoiceMachine
from portal.machines.subscription import SubscriptionMachine
from portal.models import Invoice, OutboxMessage, Subscription, Transition
from tests.factories import make_invoice, make_plan, make_subscription
from tests.published import published


def period(days=30):
    start = clock.now()
    return {"period_start": start, "period_end": start + timedelta(days=days)}


def later(days=40):
    return {"period_end": clock.now() + timedelta(days=days)}


def another_plan():
    return {"plan": make_plan(amount=49900)}


SUBSCRIPTION_STATES = ["pending", "trialing", "active", "past_due", "paused", "canceled", "expired"]
SUBSCRIPTION_EVENTS = ["start_trial", "activate", "renew", "extend", "mark_past_due", "schedule_cancel",
                       "undo_cancel", "cancel", "expire", "schedule_pause", "unschedule_pause", "pause", "resume",
                       "replace_card", "change_plan", "schedule_plan_change", "unschedule_plan_change",
                       "refuse_trial", "schedule_price_change", "apply_price_change", "remove_card"]


def card_used():
    return {"reason": "card_used"}


def new_price():
    return {"amount": 34900, "effective_from": clock.now() + timedelta(days=30)}


def pause_for_two_months():
    return {"resumes_at": clock.now() + timedelta(days=90)}

# (from, event, arguments, to, routing key announced on the bus or None) — the whole legal table.
SUBSCRIPTION_LEGAL = [
    ("pending", "start_trial", period, "trialing", "subscription.activated"),
    ("pending", "activate", period, "active", "subscription.activated"),
    ("trialing", "activate", period, "active", "subscription.activated"),
    ("active", "renew", period, "active", "subscription.renewed"),
    ("past_due", "renew", period, "active", "subscription.renewed"),
    ("active", "extend", later, "active", "subscription.renewed"),
    ("trialing", "extend", later, "trialing", "subscription.renewed"),
    ("past_due", "extend", later, "active", "subscription.renewed"),
    ("active", "mark_past_due", dict, "past_due", "subscription.past_due"),
    ("trialing", "mark_past_due", dict, "past_due", "subscription.past_due"),
    ("trialing", "schedule_cancel", dict, "trialing", None),
    ("active", "schedule_cancel", dict, "active", None),
    ("past_due", "schedule_cancel", dict, "past_due", None),
    ("pending", "cancel", dict, "canceled", "subscription.canceled"),
    ("trialing", "cancel", dict, "canceled", "subscription.canceled"),
    ("active", "cancel", dict, "canceled", "subscription.canceled"),
    ("past_due", "cancel", dict, "canceled", "subscription.canceled"),
    ("pending", "expire", dict, "expired", "subscription.expired"),
    ("past_due", "expire", dict, "expired", "subscription.expired"),
    ("active", "schedule_pause", pause_for_two_months, "active", "subscription.pause_scheduled"),
    ("paused", "resume", dict, "active", "subscription.resumed"),
    ("paused", "cancel", dict, "canceled", "subscription.canceled"),
    ("active", "change_plan", another_plan, "active", "subscription.plan_changed"),
    ("trialing", "change_plan", another_plan, "trialing", "subscription.plan_changed"),
    ("active", "schedule_plan_change", another_plan, "active", "subscription.plan_change_scheduled"),
    ("trialing", "schedule_plan_change", another_plan, "trialing",
     "subscription.plan_change_scheduled"),
    ("pending", "refuse_trial", card_used, "pending", "subscription.trial_refused"),
    ("trialing", "schedule_price_change", new_price, "trialing", "subscription.price_change_scheduled"),
    ("active", "schedule_price_change", new_price, "active", "subscription.price_change_scheduled"),
    ("past_due", "schedule_price_change", new_price, "past_due", "subscription.price_change_scheduled"),
    ("paused", "schedule_price_change", new_price, "paused", "subscription.price_change_scheduled"),
]
# Legal with a card, from every live state: covered by its own test below.
CARD_REPLACEABLE = {("trialing", "replace_card"), ("active", "replace_card"), ("past_due", "replace_card"),
                    ("paused", "replace_card")}
# undo_cancel is legal only once a cancellation is scheduled, unschedule_pause and pause once a pause is,
# unschedule_plan_change once a plan change is, apply_price_change once a price change is, remove_card with a card:
# covered by their own tests below.
SUBSCRIPTION_ILLEGAL = [
    (state, event)
    for state in SUBSCRIPTION_STATES
    for event in SUBSCRIPTION_EVENTS
    if (state, event) not in {(f, e) for f, e, *_ in SUBSCRIPTION_LEGAL} | CARD_REPLACEABLE
]


def transitions_of(entity_type, entity_id):
    return db.session.scalars(
        select(Transition).where(Transition.entity_type == entity_type, Transition.entity_id == entity_id)
        .order_by(Transition.id)
    ).all()


def outbox_keys():
    return db.session.scalars(select(OutboxMessage.routing_key).order_by(OutboxMessage.id)).all()


@pytest.mark.parametrize("source,event,args,target,announced", SUBSCRIPTION_LEGAL,
                         ids=[f"{f}-{e}" for f, e, *_ in SUBSCRIPTION_LEGAL])
def test_legal_subscription_transition_is_recorded(app, source, event, args, target, announced):
    sub = make_subscription(status=source)
    with atomic():
        fire(lock(Subscription, sub.id), event, actor="test", cause="table", **args())

    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).status == target
    [row] = transitions_of("subscription", sub.id)
    assert (row.from_state, row.to_state, row.event, row.actor, row.cause) == (source, target, event, "test", "table")
    assert outbox_keys() == ([announced] if announced else [])
    if announced:
        [data] = published(announced)
        assert (data["subscription_id"], data["status"]) == (sub.id, target)


@pytest.mark.parametrize("source,event", SUBSCRIPTION_ILLEGAL, ids=[f"{s}-{e}" for s, e in SUBSCRIPTION_ILLEGAL])
def test_illegal_subscription_event_raises_and_changes_nothing(app, source, event):
    sub = make_subscription(status=source)
    kwargs = {**period(), "period_end": clock.now() + timedelta(days=60)}
    if event == "extend":
        kwargs = later()
    with pytest.raises(TransitionNotAllowed):
        with atomic():
            fire(lock(Subscription, sub.id), event, actor="test", **kwargs)

    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).status == source
    assert transitions_of("subscription", sub.id) == []
    assert outbox_keys() == []


def test_cancel_at_period_end_can_be_undone_once_scheduled(app):
    sub = make_subscription(status="active")
    with atomic():
        fire(lock(Subscription, sub.id), "schedule_cancel", actor="customer:1")
    with pytest.raises(TransitionNotAllowed):
        with atomic():
            fire(lock(Subscription, sub.id), "schedule_cancel", actor="customer:1")
    with atomic():
        fire(lock(Subscription, sub.id), "undo_cancel", actor="customer:1")

    db.session.expire_all()
    sub = db.session.get(Subscription, sub.id)
    assert sub.status == "active" and sub.cancel_at_period_end is False
    assert [t.event for t in transitions_of("subscription", sub.id)] == ["schedule_cancel", "undo_cancel"]


def test_a_scheduled_pause_pauses_at_the_period_end_or_is_taken_back(app):
    taken_back, paused = make_subscription(status="active"), make_subscription(status="active")
    for sub in (taken_back, paused):
        with atomic():
            fire(lock(Subscription, sub.id), "schedule_pause", actor="customer:1", **pause_for_two_months())
        with pytest.raises(TransitionNotAllowed):  # one pause at a time
            with atomic():
                fire(lock(Subscription, sub.id), "schedule_pause", actor="customer:1", **pause_for_two_months())
    with atomic():
        fire(lock(Subscription, taken_back.id), "unschedule_pause", actor="customer:1")
    with atomic():
        fire(lock(Subscription, paused.id), "pause", actor="job:renewal")

    db.session.expire_all()
    assert (db.session.get(Subscription, taken_back.id).status, db.session.get(Subscription, paused.id).status) == (
        "active", "paused")
    assert db.session.get(Subscription, taken_back.id).resumes_at is None
    assert [t.event for t in transitions_of("subscription", paused.id)] == ["schedule_pause", "pause"]
    assert outbox_keys() == ["subscription.pause_scheduled", "subscription.pause_scheduled",
                             "subscription.pause_undone", "subscription.paused"]
    _, scheduled = published("subscription.pause_scheduled")
    assert scheduled["pause"]["resumes_at"] == db.session.get(Subscription, paused.id).resumes_at.isoformat()
    [undone] = published("subscription.pause_undone")
    assert (undone["subscription_id"], undone["pause"]) == (taken_back.id, None)


def test_a_pause_must_end_after_the_period_it_starts_from(app):
    sub = make_subscription(status="active")
    with pytest.raises(ValueError):
        with atomic():
            fire(lock(Subscription, sub.id), "schedule_pause", actor="customer:1", resumes_at=sub.current_period_end)
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).pause_starts_at is None


@pytest.mark.parametrize("source", ["trialing", "active", "past_due", "paused"])
def test_a_live_subscription_takes_a_new_card(app, source):
    from portal.models import PaymentMethod

    sub = make_subscription(status=source)
    card = PaymentMethod.for_token("tk_new_card", user_id=sub.customer_id, provider="sandbox", card_last_four="3055")
    db.session.add(card)
    db.session.commit()
    with atomic():
        fire(lock(Subscription, sub.id), "replace_card", actor="customer:1", payment_method=card)
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).payment_method.card_last_four == "3055"
    assert [(t.event, t.to_state) for t in transitions_of("subscription", sub.id)] == [("replace_card", source)]
    [data] = published("subscription.card_replaced")
    assert (data["status"], data["card"]["mask"]) == (source, card.card_mask) and "3055" in data["card"]["mask"]


@pytest.mark.parametrize("source", ["trialing", "active", "past_due", "paused"])
def test_staff_take_the_card_off_a_live_subscription(app, source):
    from portal.models import PaymentMethod

    sub = make_subscription(status=source)
    sub.payment_method = PaymentMethod.for_token("tk_lost", user_id=sub.customer_id, provider="sandbox")
    db.session.commit()
    with atomic():
        fire(lock(Subscription, sub.id), "remove_card", actor="staff:1")
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).payment_method_id is None
    with pytest.raises(TransitionNotAllowed):  # nothing left to take off
        with atomic():
            fire(lock(Subscription, sub.id), "remove_card", actor="staff:1")
    assert [(t.event, t.to_state) for t in transitions_of("subscription", sub.id)] == [("remove_card", source)]
    [data] = published("subscription.card_removed")
    assert (data["subscription_id"], data["status"], data["card"]) == (sub.id, source, None)


@pytest.mark.parametrize("source", ["trialing", "active"])
def test_a_scheduled_price_applies_at_the_renewal_and_a_plan_change_supersedes_it(app, source):
    moved, superseded = make_subscription(status=source), make_subscription(status=source)
    price_before = moved.amount
    for sub in (moved, superseded):
        with atomic():
            fire(lock(Subscription, sub.id), "schedule_price_change", actor="staff:1", **new_price())
    with atomic():
        fire(lock(Subscription, moved.id), "apply_price_change", actor="job:renewal")
    with atomic():
        fire(lock(Subscription, superseded.id), "change_plan", actor="customer:1", **another_plan())
    db.session.expire_all()
    moved, superseded = db.session.get(Subscription, moved.id), db.session.get(Subscription, superseded.id)
    assert (moved.amount, moved.scheduled_amount, moved.price_change_from) == (34900, None, None)
    assert (superseded.amount, superseded.scheduled_amount) == (49900, None)
    with pytest.raises(TransitionNotAllowed):  # applied once
        with atomic():
            fire(lock(Subscription, moved.id), "apply_price_change", actor="job:renewal")
    [applied] = published("subscription.price_change_applied")
    assert (applied["subscription_id"], applied["amount"]) == (moved.id, 34900)
    assert applied["previous_price"] == {"amount": price_before, "currency": "RUB"}


@pytest.mark.parametrize("source", ["trialing", "active"])
def test_a_scheduled_plan_change_is_announced_and_so_is_its_undoing(app, source):
    sub = make_subscription(status=source)
    plan = make_plan(code="cheaper", amount=19900)
    with atomic():
        fire(lock(Subscription, sub.id), "schedule_plan_change", actor="customer:1", plan=plan)
    with atomic():
        fire(lock(Subscription, sub.id), "unschedule_plan_change", actor="customer:1")
    with pytest.raises(TransitionNotAllowed):  # nothing left to undo
        with atomic():
            fire(lock(Subscription, sub.id), "unschedule_plan_change", actor="customer:1")
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).scheduled_plan_id is None
    [scheduled] = published("subscription.plan_change_scheduled")
    assert scheduled["scheduled_plan"] == {"code": "cheaper", "name": "Cheaper",
                                          "names": {"ru": "Cheaper", "en": "Cheaper"}, "amount": 19900}
    [undone] = published("subscription.plan_change_undone")
    assert (undone["scheduled_plan"], undone["undone_plan"]["code"]) == (None, "cheaper")


def test_a_price_change_needs_a_price_and_a_date(app):
    sub = make_subscription(status="active")
    for bad in ({"amount": -1, "effective_from": clock.now()}, {"amount": 34900}):
        with pytest.raises(ValueError):
            with atomic():
                fire(lock(Subscription, sub.id), "schedule_price_change", actor="staff:1", **bad)
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).scheduled_amount is None


def test_undo_cancel_without_a_scheduled_cancel_is_refused(app):
    sub = make_subscription(status="active")
    with pytest.raises(TransitionNotAllowed):
        with atomic():
            fire(lock(Subscription, sub.id), "undo_cancel", actor="customer:1")


def test_final_state_reloaded_from_the_database_is_final(app):
    sub = make_subscription(status="canceled")
    db.session.expire_all()
    machine = db.session.get(Subscription, sub.id).machine
    assert machine.canceled.is_active
    assert list(machine.allowed_events) == []


def test_failing_callback_rolls_back_the_whole_transaction(app):
    sub = make_subscription(status="pending")
    bad_period = {"period_start": clock.now(), "period_end": clock.now() - timedelta(days=1)}
    with pytest.raises(ValueError):
        with atomic():
            fire(lock(Subscription, sub.id), "activate", actor="test", **bad_period)

    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).status == "pending"
    assert db.session.scalar(select(func.count()).select_from(Transition)) == 0
    assert outbox_keys() == []


def test_transition_without_actor_is_refused(app):
    sub = make_subscription(status="active")
    with pytest.raises(ValueError, match="actor"):
        with atomic():
            lock(Subscription, sub.id).machine.send("mark_past_due")
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).status == "active"


def test_activated_event_carries_what_consumers_need(app):
    sub = make_subscription(status="pending")
    with atomic():
        fire(lock(Subscription, sub.id), "activate", actor="job:test", **period())
    message = db.session.scalars(select(OutboxMessage)).one()
    envelope = message.envelope
    assert envelope["type"] == "subscription.activated"
    assert envelope["data"]["customer"]["external_id"] == sub.customer.external_id
    assert envelope["data"]["plan"]["code"] == sub.plan.code
    assert envelope["data"]["amount"] == sub.amount and envelope["data"]["currency"] == "RUB"
    assert envelope["data"]["current_period_end"] is not None


INVOICE_STATES = ["open", "paid", "void", "refunded"]
INVOICE_EVENTS = ["pay", "record_failed_attempt", "void_invoice", "refund_partially", "refund_fully"]
# (from, event, refunded before, event arguments, to, refunded after); invoice amount is 29900.
INVOICE_LEGAL = [
    ("open", "pay", 0, {}, "paid", 0),
    ("open", "record_failed_attempt", 0, {"reason_code": 5051}, "open", 0),
    ("open", "void_invoice", 0, {}, "void", 0),
    ("paid", "refund_partially", 0, {"amount": 10000}, "paid", 10000),
    ("paid", "refund_fully", 0, {"amount": 29900}, "refunded", 29900),
    ("paid", "refund_fully", 10000, {"amount": 19900}, "refunded", 29900),
]
INVOICE_ILLEGAL = [
    (state, event)
    for state in INVOICE_STATES
    for event in INVOICE_EVENTS
    if (state, event) not in {(f, e) for f, e, *_ in INVOICE_LEGAL}
] + [
    ("paid", "refund_partially", {"amount": 29900}),  # the whole balance is a full refund
    ("paid", "refund_fully", {"amount": 100}),  # a part is a partial refund
    ("paid", "refund_partially", {"amount": 0}),
    ("paid", "refund_partially", {"amount": 40000}),  # more than was paid
]


@pytest.mark.parametrize("source,event,refunded,args,target,refunded_after", INVOICE_LEGAL,
                         ids=[f"{f}-{e}-{r}" for f, e, r, *_ in INVOICE_LEGAL])
def test_legal_invoice_transition_is_recorded(app, source, event, refunded, args, target, refunded_after):
    invoice = make_invoice(status=source, amount=29900, amount_refunded=refunded)
    with atomic():
        fire(lock(Invoice, invoice.id), event, actor="test", **args)

    db.session.expire_all()
    invoice = db.session.get(Invoice, invoice.id)
    assert (invoice.status, invoice.amount_refunded) == (target, refunded_after)
    [row] = transitions_of("invoice", invoice.id)
    assert (row.from_state, row.to_state, row.event) == (source, target, event)


@pytest.mark.parametrize("case", INVOICE_ILLEGAL, ids=[f"{c[0]}-{c[1]}-{c[2:]}" for c in INVOICE_ILLEGAL])
def test_illegal_invoice_event_raises_and_changes_nothing(app, case):
    source, event, args = case[0], case[1], (case[2] if len(case) > 2 else {"amount": 100})
    invoice = make_invoice(status=source, amount=29900)
    with pytest.raises(TransitionNotAllowed):
        with atomic():
            fire(lock(Invoice, invoice.id), event, actor="test", **args)

    db.session.expire_all()
    invoice = db.session.get(Invoice, invoice.id)
    assert (invoice.status, invoice.amount_refunded) == (source, 0)
    assert transitions_of("invoice", invoice.id) == []


def test_failed_attempt_counts_and_schedules_the_retry(app):
    invoice = make_invoice(status="open")
    retry_at = clock.now() + timedelta(days=1)
    with atomic():
        fire(lock(Invoice, invoice.id), "record_failed_attempt", actor="job:renewal", reason_code=5051,
             next_attempt_at=retry_at)
    db.session.expire_all()
    invoice = db.session.get(Invoice, invoice.id)
    assert (invoice.attempt_count, invoice.last_reason_code, invoice.next_attempt_at) == (1, 5051, retry_at)


@pytest.mark.parametrize("machine", [SubscriptionMachine, InvoiceMachine])
def test_diagram_is_rendered_from_the_class(machine):
    diagram = machine.diagram()
    assert diagram.startswith("stateDiagram-v2")
    for state in machine.states:
        assert state.id in diagram


def test_a_query_in_the_same_transaction_sees_the_transitions_and_events_so_far(app):
    sub = make_subscription(status="active")
    with atomic():
        fire(lock(Subscription, sub.id), "mark_past_due", actor="test", cause="first")
        assert [t.event for t in transitions_of("subscription", sub.id)] == ["mark_past_due"]
        assert outbox_keys() == ["subscription.past_due"]
        fire(lock(Subscription, sub.id), "expire", actor="test", cause="second")
    assert [t.event for t in transitions_of("subscription", sub.id)] == ["mark_past_due", "expire"]
    assert outbox_keys() == ["subscription.past_due", "subscription.expired"]


def test_machines_reused_across_rows_follow_each_row(app):
    subs = [make_subscription(status=status) for status in ("pending", "active", "pending")]
    with atomic():
        for sub in subs:
            sub = lock(Subscription, sub.id)
            if sub.status == "pending":
                fire(sub, "activate", actor="test", **period())
            else:
                with pytest.raises(TransitionNotAllowed):
                    fire(sub, "activate", actor="test", **period())
    db.session.expire_all()
    assert [db.session.get(Subscription, s.id).status for s in subs] == ["active", "active", "active"]
    assert [len(transitions_of("subscription", s.id)) for s in subs] == [1, 0, 1]


def test_a_scheduled_plan_change_can_be_undone_once_scheduled(app):
    sub = make_subscription(status="active")
    monthly_plan_id = sub.plan_id
    with pytest.raises(TransitionNotAllowed):
        with atomic():
            fire(lock(Subscription, sub.id), "unschedule_plan_change", actor="customer:1")
    cheaper = make_plan(amount=9900)
    with atomic():
        fire(lock(Subscription, sub.id), "schedule_plan_change", actor="customer:1", plan=cheaper)
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).scheduled_plan_id == cheaper.id
    with atomic():
        fire(lock(Subscription, sub.id), "unschedule_plan_change", actor="customer:1")

    db.session.expire_all()
    sub = db.session.get(Subscription, sub.id)
    assert (sub.status, sub.plan_id, sub.scheduled_plan_id) == ("active", monthly_plan_id, None)
    assert [t.event for t in transitions_of("subscription", sub.id)] == ["schedule_plan_change",
                                                                         "unschedule_plan_change"]
    assert outbox_keys() == ["subscription.plan_change_scheduled", "subscription.plan_change_undone"]


def test_change_plan_moves_to_the_plans_price_and_an_interval_change_to_a_new_anchored_period(app):
    sub = make_subscription(status="active")
    yearly = make_plan(amount=299000, interval_unit="year")
    start = clock.now()
    with atomic():
        fire(lock(Subscription, sub.id), "change_plan", actor="customer:1", plan=yearly, period_start=start,
             period_end=start + timedelta(days=365))
    db.session.expire_all()
    sub = db.session.get(Subscription, sub.id)
    assert (sub.plan_id, sub.amount, sub.billing_anchor, sub.current_period_start) == (yearly.id, 299000, start, start)
    [message] = db.session.scalars(select(OutboxMessage)).all()
    assert message.payload["plan"]["code"] == yearly.code and message.payload["previous_plan"]["code"] != yearly.code


@pytest.mark.parametrize("event", ["change_plan", "schedule_plan_change"])
def test_a_plan_change_to_the_same_plan_or_another_currency_is_refused(app, event):
    sub = make_subscription(status="active")
    for plan in (sub.plan, make_plan(currency="USD")):
        with pytest.raises(ValueError):
            with atomic():
                fire(lock(Subscription, sub.id), event, actor="customer:1", plan=plan)
    assert transitions_of("subscription", sub.id) == []


def test_an_atomic_block_inside_another_joins_it_and_commits_only_with_it(app):
    sub = make_subscription(status="active")
    with pytest.raises(RuntimeError):
        with atomic():
            with atomic():
                fire(lock(Subscription, sub.id), "schedule_cancel", actor="customer:1")
            # The inner block ended without committing: the outer one failing undoes it too.
            raise RuntimeError("the outer block fails after the inner one")
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).cancel_at_period_end is False
    assert transitions_of("subscription", sub.id) == []


def test_a_failed_inner_atomic_block_undoes_only_its_own_work(app):
    first, second = make_subscription(status="active"), make_subscription(status="active")
    with atomic():
        fire(lock(Subscription, first.id), "schedule_cancel", actor="customer:1")
        with pytest.raises(TransitionNotAllowed):
            with atomic():
                fire(lock(Subscription, second.id), "schedule_cancel", actor="customer:1")
                fire(lock(Subscription, second.id), "schedule_cancel", actor="customer:1")  # twice: refused
    db.session.expire_all()
    assert db.session.get(Subscription, first.id).cancel_at_period_end is True
    assert db.session.get(Subscription, second.id).cancel_at_period_end is False
    assert [t.entity_id for t in db.session.scalars(select(Transition).where(
        Transition.event == "schedule_cancel"))] == [first.id]
