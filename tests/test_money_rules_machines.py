"""The four lifecycles' tables run fast, and every record a transition writes read back: each legal
transition lands with its transitions row and its bus event, each illegal one is refused, each guard's
refusal is asserted, and every timestamp and amount a callback sets is read from the database.

The tables of tests/test_machines.py run here one case after another in a single test (a row each, no
emptying of the database in between), so a mutation run checks them in seconds."""
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.machines import TransitionNotAllowed, atomic, fire, lock
from portal.models import Invoice, OutboxMessage, Payment, Refund, Transition
from tests.factories import make_customer, make_invoice, make_plan, make_subscription
from tests.test_machines import INVOICE_ILLEGAL, INVOICE_LEGAL, SUBSCRIPTION_ILLEGAL, SUBSCRIPTION_LEGAL, period

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)


# One customer and one plan serve every row of a test: a customer costs a password hash.
_OWNER: dict = {}


@pytest.fixture(autouse=True)
def _one_owner_per_test():
    _OWNER.clear()
    yield
    _OWNER.clear()


def subscription(status="pending"):
    if not _OWNER:
        _OWNER.update(plan=make_plan(), customer=make_customer())
    return make_subscription(status=status, plan=_OWNER["plan"], customer=_OWNER["customer"])


def invoice_row(status="open", **data):
    return make_invoice(subscription=subscription("active"), status=status, **data)


_ids = iter(range(1, 10**9))


@pytest.fixture
def frozen(app):
    clock.freeze(NOW)
    yield NOW


def run(row, event, **data):
    with atomic():
        fire(lock(type(row), row.id), event, actor="test", cause="rules", **data)
    db.session.expire_all()
    return db.session.get(type(row), row.id)


def refused(row, event, error=TransitionNotAllowed, **data):
    """The event is refused and the row, its timeline and the bus are as they were."""
    before = _snapshot(row)
    with pytest.raises(error):
        run(row, event, **data)
    db.session.rollback()
    db.session.expire_all()
    assert _snapshot(db.session.get(type(row), row.id)) == before, event


def _snapshot(row):
    columns = {c.key: getattr(row, c.key) for c in type(row).__mapper__.column_attrs}
    return columns, _timeline(row), _events(row)


def _timeline(row):
    return db.session.execute(select(Transition.from_state, Transition.to_state, Transition.event).where(
        Transition.entity_type == type(row).__name__.lower(), Transition.entity_id == row.id)
        .order_by(Transition.id)).all()


def _events(row):
    return db.session.scalars(select(OutboxMessage.routing_key).where(
        OutboxMessage.aggregate_type == type(row).__name__.lower(), OutboxMessage.aggregate_id == row.id)
        .order_by(OutboxMessage.id)).all()


# The tables ---------------------------------------------------------------------------------------------------

def test_every_legal_subscription_transition_lands_with_its_timeline_row_and_bus_event(app):
    for source, event, args, target, announced in SUBSCRIPTION_LEGAL:
        sub = run(subscription(status=source), event, **args())
        assert sub.status == target, (source, event)
        assert _timeline(sub) == [(source, target, event)], (source, event)
        assert _events(sub) == ([announced] if announced else []), (source, event)


def test_every_illegal_subscription_event_is_refused_and_changes_nothing(app):
    for source, event in SUBSCRIPTION_ILLEGAL:
        sub = subscription(status=source)
        args = {"period_end": clock.now() + timedelta(days=60)} if event == "extend" else {
            **period(), "period_end": clock.now() + timedelta(days=60)}
        refused(sub, event, **args)


def test_every_legal_invoice_transition_lands_with_its_timeline_row(app):
    for source, event, refunded, args, target, refunded_after in INVOICE_LEGAL:
        invoice = run(invoice_row(status=source, amount=29900, amount_refunded=refunded), event, **args)
        assert (invoice.status, invoice.amount_refunded) == (target, refunded_after), (source, event)
        assert _timeline(invoice) == [(source, target, event)]


def test_every_illegal_invoice_event_is_refused_and_changes_nothing(app):
    for case in INVOICE_ILLEGAL:
        source, event, args = case[0], case[1], (case[2] if len(case) > 2 else {"amount": 100})
        refused(invoice_row(status=source, amount=29900), event, **args)


PAYMENT_STATES = ["pending", "authorized", "completed", "declined", "voided"]
# (from, event, to, bus event) for a payment not held for review.
PAYMENT_LEGAL = [
    ("pending", "authorize", "authorized", None),
    ("pending", "complete", "completed", "payment.succeeded"),
    ("pending", "decline", "declined", "payment.failed"),
    ("authorized", "confirm", "completed", "payment.succeeded"),
    ("authorized", "void", "voided", None),
]


def payment(status="pending", amount=29900, refunded=0, needs_review=False, invoice=None):
    invoice = invoice or invoice_row(amount=amount)
    row = Payment(provider="sandbox", provider_transaction_id=f"tx-{next(_ids)}", invoice=invoice,
                  customer_id=invoice.customer_id, amount=amount, currency="RUB", status=status,
                  amount_refunded=refunded, needs_review=needs_review)
    db.session.add(row)
    db.session.commit()
    return row


def test_every_payment_transition_is_legal_only_from_its_own_state(app):
    for source, event, target, announced in PAYMENT_LEGAL:
        row = run(payment(source), event)
        assert (row.status, _timeline(row), _events(row)) == (target, [(source, target, event)],
                                                              [announced] if announced else [])
    legal = {(s, e) for s, e, *_ in PAYMENT_LEGAL}
    for state in PAYMENT_STATES:
        for event in ("authorize", "complete", "decline", "confirm", "void"):
            if (state, event) not in legal:
                refused(payment(state), event)
        if state != "completed":
            refused(payment(state), "record_refund", amount=100)
        if state in ("declined", "voided"):
            refused(payment(state), "hold_for_review", reason="late")
        for event, data in (("refund_held", {}), ("attach_to_invoice", {"invoice": None}),
                            ("dismiss_review", {"note": "ok"})):
            refused(payment(state), event, **data)  # not held: nothing to resolve


def test_a_payment_is_held_for_review_from_any_live_state_and_a_review_is_dismissed_from_each(app):
    for state in ("pending", "authorized", "completed"):
        row = run(payment(state), "hold_for_review", reason="amount differs")
        assert (row.status, row.needs_review, row.review_reason, row.review_resolution) == (
            state, True, "amount differs", None)
        row = run(row, "dismiss_review", note="checked by phone")
        assert (row.status, row.needs_review, row.review_resolution, row.review_note) == (
            state, False, "dismissed", "checked by phone")
        assert [e for _, _, e in _timeline(row)] == ["hold_for_review", "dismiss_review"]
    for state in ("pending", "authorized"):
        for event in ("refund_held", "attach_to_invoice"):  # only money that was taken is refunded or attached
            refused(payment(state, needs_review=True), event, invoice=invoice_row())




# Subscription records -----------------------------------------------------------------------------------------

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
    assert [e for _, _, e in _timeline(sub)] == ["schedule_cancel", "undo_cancel"]


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
    paused.current_period_end = NOW - timedelta(days=10)
    db.session.commit()
    sub = run(paused, "resume")
    assert (sub.status, sub.current_period_start, sub.current_period_end, sub.billing_anchor) == (
        "active", NOW - timedelta(days=10), NOW, NOW)
    assert (sub.pause_starts_at, sub.resumes_at) == (None, None)
    assert _events(sub) == ["subscription.resumed"]


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


def test_a_card_replacement_needs_the_new_card(app):
    sub = subscription(status="active")
    refused(sub, "replace_card", error=ValueError, payment_method=None)


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


def test_a_scheduled_plan_change_is_recorded_on_the_subscription(app):
    sub = subscription(status="trialing")
    cheaper = make_plan(amount=9900)
    sub = run(sub, "schedule_plan_change", plan=cheaper)
    assert (sub.status, sub.plan_id != cheaper.id, sub.scheduled_plan_id) == ("trialing", True, cheaper.id)


def test_cancel_and_expiry_record_when_the_subscription_ended(frozen):
    canceled = run(subscription(status="active"), "cancel")
    assert (canceled.canceled_at, canceled.ended_at) == (NOW, NOW)
    expired = run(subscription(status="past_due"), "expire")
    assert (expired.canceled_at, expired.ended_at) == (None, NOW)


# Invoice records ----------------------------------------------------------------------------------------------

def test_paying_an_invoice_records_when_clears_the_retry_and_sets_the_period_given(frozen):
    invoice = invoice_row(status="open")
    invoice.next_attempt_at, invoice.period_start, invoice.period_end = NOW + timedelta(days=1), None, None
    db.session.commit()
    start, end = NOW, datetime(2027, 4, 10, 12, 0, tzinfo=UTC)
    invoice = run(invoice, "pay", period_start=start, period_end=end)
    assert (invoice.paid_at, invoice.next_attempt_at, invoice.period_start, invoice.period_end) == (
        NOW, None, start, end)
    # Without a period, the invoice keeps the one it was made for.
    kept = invoice_row(status="open")
    period_start, period_end = kept.period_start, kept.period_end
    kept = run(kept, "pay")
    assert (kept.paid_at, kept.period_start, kept.period_end) == (NOW, period_start, period_end)


def test_voiding_an_invoice_records_when_and_clears_the_retry(frozen):
    invoice = invoice_row(status="open")
    invoice.next_attempt_at = NOW + timedelta(days=2)
    db.session.commit()
    invoice = run(invoice, "void_invoice")
    assert (invoice.status, invoice.voided_at, invoice.next_attempt_at, invoice.paid_at) == ("void", NOW, None, None)


def test_failed_attempts_are_counted_with_their_reason_and_next_try(frozen):
    invoice = invoice_row(status="open")
    invoice = run(invoice, "record_failed_attempt", reason_code=5051, next_attempt_at=NOW + timedelta(days=1))
    assert (invoice.attempt_count, invoice.last_reason_code, invoice.next_attempt_at) == (
        1, 5051, NOW + timedelta(days=1))
    invoice = run(invoice, "record_failed_attempt", reason_code=5054, next_attempt_at=None)
    invoice = run(invoice, "record_failed_attempt", reason_code=5054, next_attempt_at=None)
    assert (invoice.attempt_count, invoice.last_reason_code, invoice.next_attempt_at) == (3, 5054, None)


def test_a_failed_attempt_on_an_invoice_made_in_the_same_transaction_counts_one(frozen):
    sub = subscription("active")
    with atomic():
        new = Invoice(subscription=sub, customer_id=sub.customer_id, kind="renewal", status="open", amount=29900,
                      currency="RUB")
        db.session.add(new)
        fire(new, "record_failed_attempt", actor="test", reason_code=5051, next_attempt_at=None)
    assert db.session.get(Invoice, new.id).attempt_count == 1


def test_refunds_of_an_invoice_accumulate_up_to_what_was_paid(app):
    invoice = invoice_row(status="paid", amount=29900, amount_refunded=10000)
    refused(invoice, "refund_partially", amount=None)
    refused(invoice, "refund_partially", amount=0)
    refused(invoice, "refund_partially", amount=-1)
    refused(invoice, "refund_partially", amount=19900)  # the whole balance is a full refund
    refused(invoice, "refund_fully", amount=19899)
    refused(invoice, "refund_fully", amount=19901)
    refused(invoice, "refund_fully", amount=None)
    invoice = run(invoice, "refund_partially", amount=1)
    assert (invoice.status, invoice.amount_refunded) == ("paid", 10001)
    invoice = run(invoice, "refund_partially", amount=19898)
    assert (invoice.status, invoice.amount_refunded) == ("paid", 29899)
    refused(invoice, "refund_partially", amount=1)
    invoice = run(invoice, "refund_fully", amount=1)
    assert (invoice.status, invoice.amount_refunded) == ("refunded", 29900)


# Payment records ----------------------------------------------------------------------------------------------

def test_refunds_recorded_on_a_payment_never_exceed_what_it_took(app):
    row = payment("completed", amount=29900, refunded=10000)
    for amount in (None, 0, -5, 19901):
        refused(row, "record_refund", error=ValueError, amount=amount)
    row = run(row, "record_refund", amount=1)
    assert row.amount_refunded == 10001
    row = run(row, "record_refund", amount=19899)
    assert (row.status, row.amount_refunded) == ("completed", 29900)
    refused(row, "record_refund", error=ValueError, amount=1)


def test_a_hold_needs_a_reason_and_adds_a_second_finding_to_the_first(app):
    row = payment("completed")
    for reason in (None, ""):
        refused(row, "hold_for_review", error=ValueError, reason=reason)
    row = run(row, "hold_for_review", reason="paid in USD")
    customer = row.customer_id
    row = run(row, "hold_for_review", reason="paid in USD")
    assert row.review_reason == "paid in USD"  # the same finding is not repeated
    row = run(row, "hold_for_review", reason="refund could not apply")
    assert (row.review_reason, row.customer_id, row.needs_review) == (
        "paid in USD; refund could not apply", customer, True)
    # Once resolved, a new hold starts a new finding.
    row = run(row, "refund_held", note="")
    assert (row.needs_review, row.review_resolution, row.review_note) == (False, "refunded", None)
    row = run(row, "hold_for_review", reason="charged twice")
    assert (row.review_reason, row.review_resolution, row.needs_review) == ("charged twice", None, True)


def test_a_payment_by_a_stranger_is_held_without_its_customer(app):
    row = run(payment("pending"), "hold_for_review", reason="another customer's AccountId", stranger=True)
    assert (row.customer_id, row.needs_review) == (None, True)


def test_a_held_payment_settles_nothing_until_attached_and_a_decline_still_announces_the_failure(app):
    held = run(payment("pending"), "hold_for_review", reason="amount differs")
    held = run(held, "complete")
    assert _events(held) == []
    confirmed = run(run(payment("authorized"), "hold_for_review", reason="amount differs"), "confirm")
    assert _events(confirmed) == []
    declined = run(run(payment("pending"), "hold_for_review", reason="amount differs"), "decline")
    assert _events(declined) == ["payment.failed"]


def test_attaching_a_held_payment_needs_the_invoice_and_moves_it_to_that_customer(app):
    row = run(payment("completed"), "hold_for_review", reason="no invoice")
    refused(row, "attach_to_invoice", error=ValueError, invoice=None)
    right = invoice_row()
    row = run(row, "attach_to_invoice", invoice=right, note="")
    assert (row.invoice_id, row.customer_id, row.review_resolution, row.review_note, row.needs_review) == (
        right.id, right.customer_id, "attached", None, False)
    assert _events(row) == ["payment.succeeded"]


def test_a_review_is_dismissed_only_with_a_note(app):
    row = run(payment("completed"), "hold_for_review", reason="amount differs")
    for note in (None, "", "   "):
        refused(row, "dismiss_review", error=ValueError, note=note)


# Refund records -----------------------------------------------------------------------------------------------

def refund(status="pending"):
    row = Refund(payment=payment("completed"), provider="sandbox", amount=1000, currency="RUB", status=status,
                 requested_by="customer:1", provider_refund_id=f"rf-{next(_ids)}" if status != "pending" else None)
    db.session.add(row)
    db.session.commit()
    return row


def test_a_refund_succeeds_with_the_providers_id_or_fails_with_the_reason_once(app):
    done = run(refund(), "succeed", provider_refund_id="rf-123")
    assert (done.status, done.provider_refund_id, _events(done)) == ("succeeded", "rf-123", ["refund.succeeded"])
    kept = refund()
    kept.provider_refund_id = "rf-asked"
    db.session.commit()
    kept = run(kept, "succeed")
    assert kept.provider_refund_id == "rf-asked"
    failed = run(refund(), "fail", failure="card account closed")
    assert (failed.status, failed.failure, _events(failed)) == ("failed", "card account closed", [])
    for state in ("succeeded", "failed"):
        for event in ("succeed", "fail"):
            refused(refund(state), event)
