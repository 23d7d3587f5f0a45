"""Dunning after a failed renewal charge (portal/billing/dunning.py): retries 1, 3 and 5 days after the first
failure, each time read back from the invoice; the give-up after the last; the window's end."""
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.billing import dunning
from portal.extensions import db
from portal.machines import atomic, lock
from portal.models import Invoice, Subscription, Transition
from portal.providers import Decline, DeclineCategory
from tests.factories import make_invoice, make_subscription
from tests.lifecycle_rules import platform_customer

FIRST = datetime(2027, 1, 31, 3, 0, tzinfo=UTC)


@pytest.fixture
def renewal(app):
    clock.freeze(FIRST)
    sub = make_subscription(status="active", customer=platform_customer())
    return sub, make_invoice(subscription=sub, kind="renewal", status="open")


def decline(retry_allowed=True, reason_code=5051):
    category = DeclineCategory.INSUFFICIENT_FUNDS if retry_allowed else DeclineCategory.NEVER_RETRY
    return Decline(category, code=reason_code)


def fail(sub, invoice, at, retry_allowed=True, reason_code=5051):
    clock.freeze(at)
    with atomic():
        dunning.record_failed_renewal(lock(Invoice, invoice.id), lock(Subscription, sub.id),
                                      decline(retry_allowed, reason_code), actor="job:test", cause="declined")
    db.session.expire_all()
    return db.session.get(Subscription, sub.id), db.session.get(Invoice, invoice.id)


def events(entity_type, entity_id):
    return db.session.scalars(select(Transition.event).where(
        Transition.entity_type == entity_type, Transition.entity_id == entity_id).order_by(Transition.id)).all()


def test_retries_come_one_three_and_five_days_after_the_first_failure_then_it_expires(renewal):
    sub, invoice = renewal
    sub, invoice = fail(sub, invoice, FIRST)
    assert (sub.status, invoice.status, invoice.attempt_count, invoice.last_reason_code) == (
        "past_due", "open", 1, 5051)
    assert invoice.next_attempt_at == datetime(2027, 2, 1, 3, 0, tzinfo=UTC)
    assert invoice.dunning_ends_at == datetime(2027, 2, 5, 3, 0, tzinfo=UTC)
    # The retry runs a few hours late: the schedule still counts from the first failure.
    sub, invoice = fail(sub, invoice, datetime(2027, 2, 1, 9, 0, tzinfo=UTC))
    assert (sub.status, invoice.attempt_count, invoice.next_attempt_at) == (
        "past_due", 2, datetime(2027, 2, 3, 3, 0, tzinfo=UTC))
    sub, invoice = fail(sub, invoice, datetime(2027, 2, 3, 3, 0, tzinfo=UTC))
    assert (invoice.attempt_count, invoice.next_attempt_at, invoice.status) == (
        3, datetime(2027, 2, 5, 3, 0, tzinfo=UTC), "open")
    assert invoice.dunning_ends_at == datetime(2027, 2, 5, 3, 0, tzinfo=UTC)
    sub, invoice = fail(sub, invoice, datetime(2027, 2, 5, 3, 0, tzinfo=UTC))
    assert (sub.status, invoice.status, invoice.attempt_count, invoice.next_attempt_at) == (
        "expired", "void", 4, None)
    assert invoice.voided_at == datetime(2027, 2, 5, 3, 0, tzinfo=UTC)
    assert events("subscription", sub.id) == ["mark_past_due", "expire"]
    assert events("invoice", invoice.id) == ["record_failed_attempt"] * 4 + ["void_invoice"]


def test_a_failed_charge_during_the_trial_makes_the_subscription_past_due(app):
    clock.freeze(FIRST)
    sub = make_subscription(status="trialing", customer=platform_customer())
    invoice = make_invoice(subscription=sub, kind="renewal", status="open")
    sub, invoice = fail(sub, invoice, FIRST)
    assert (sub.status, invoice.next_attempt_at) == ("past_due", datetime(2027, 2, 1, 3, 0, tzinfo=UTC))


def test_a_decline_that_must_not_be_retried_schedules_nothing_and_leaves_the_invoice_open(renewal):
    sub, invoice = renewal
    sub, invoice = fail(sub, invoice, FIRST, retry_allowed=False, reason_code=5054)
    assert (sub.status, invoice.status, invoice.attempt_count, invoice.last_reason_code) == (
        "past_due", "open", 1, 5054)
    assert (invoice.next_attempt_at, invoice.dunning_ends_at) == (None, datetime(2027, 2, 5, 3, 0, tzinfo=UTC))
    assert events("subscription", sub.id) == ["mark_past_due"]


def test_the_schedule_comes_from_the_setting(app, renewal, monkeypatch):
    monkeypatch.setitem(app.config, "DUNNING_RETRY_DAYS", [2, 4])
    sub, invoice = renewal
    sub, invoice = fail(sub, invoice, FIRST)
    assert (invoice.next_attempt_at, invoice.dunning_ends_at) == (
        datetime(2027, 2, 2, 3, 0, tzinfo=UTC), datetime(2027, 2, 4, 3, 0, tzinfo=UTC))
    sub, invoice = fail(sub, invoice, datetime(2027, 2, 2, 3, 0, tzinfo=UTC))
    assert invoice.next_attempt_at == datetime(2027, 2, 4, 3, 0, tzinfo=UTC)
    sub, invoice = fail(sub, invoice, datetime(2027, 2, 4, 3, 0, tzinfo=UTC))
    assert (sub.status, invoice.status) == ("expired", "void")


def test_giving_up_voids_the_invoice_and_expires_only_a_past_due_subscription(app):
    clock.freeze(FIRST)
    for status, after in (("past_due", "expired"), ("canceled", "canceled")):
        sub = make_subscription(status=status, customer=platform_customer())
        invoice = make_invoice(subscription=sub, kind="renewal", status="open")
        with atomic():
            dunning.give_up(lock(Invoice, invoice.id), lock(Subscription, sub.id), actor="job:test", cause="done")
        db.session.expire_all()
        assert (db.session.get(Subscription, sub.id).status, db.session.get(Invoice, invoice.id).status) == (
            after, "void")


@pytest.mark.parametrize("next_attempt_at,dunning_ends_at,exhausted", [
    (None, FIRST, True),  # the window closed exactly now
    (None, FIRST - timedelta(seconds=1), True),
    (None, FIRST + timedelta(seconds=1), False),  # still open
    (None, None, False),  # never failed
    (FIRST - timedelta(days=1), FIRST - timedelta(seconds=1), False),  # a retry is still due
])
def test_dunning_is_exhausted_only_when_no_retry_is_left_and_the_window_has_closed(next_attempt_at,
                                                                                    dunning_ends_at, exhausted):
    invoice = Invoice(next_attempt_at=next_attempt_at, dunning_ends_at=dunning_ends_at)
    assert dunning.is_exhausted(invoice, FIRST) is exhausted


def test_a_never_retry_decline_on_the_last_scheduled_retry_leaves_the_window_to_close(renewal):
    sub, invoice = renewal
    sub, invoice = fail(sub, invoice, FIRST)
    sub, invoice = fail(sub, invoice, datetime(2027, 2, 1, 3, 0, tzinfo=UTC))
    sub, invoice = fail(sub, invoice, datetime(2027, 2, 3, 3, 0, tzinfo=UTC), retry_allowed=False, reason_code=5054)
    assert (sub.status, invoice.status, invoice.attempt_count, invoice.next_attempt_at) == (
        "past_due", "open", 3, None)
    assert not dunning.is_exhausted(invoice, datetime(2027, 2, 5, 2, 59, tzinfo=UTC))
    assert dunning.is_exhausted(invoice, datetime(2027, 2, 5, 3, 0, tzinfo=UTC))


def test_a_failure_on_an_invoice_made_in_the_same_transaction_counts_as_the_first(app):
    clock.freeze(FIRST)
    sub = make_subscription(status="active", customer=platform_customer())
    with atomic():
        locked = lock(Subscription, sub.id)
        invoice = Invoice(subscription=locked, customer_id=sub.customer_id, kind="renewal", status="open",
                          amount=sub.amount, currency=sub.currency)
        db.session.add(invoice)  # not flushed yet: no attempt counted, not even its default 0
        dunning.record_failed_renewal(invoice, locked, decline(), actor="job:test", cause="declined")
    db.session.expire_all()
    invoice = db.session.get(Invoice, invoice.id)
    assert (invoice.attempt_count, invoice.next_attempt_at) == (1, datetime(2027, 2, 1, 3, 0, tzinfo=UTC))


def test_a_charge_that_could_not_be_made_schedules_no_retry(renewal):
    sub, invoice = renewal
    clock.freeze(FIRST)
    with atomic():  # no card, or the provider refused the request: no decline to go by
        dunning.record_failed_renewal(lock(Invoice, invoice.id), lock(Subscription, sub.id), None, actor="job:test",
                                      cause="no card")
    db.session.expire_all()
    invoice = db.session.get(Invoice, invoice.id)
    assert (db.session.get(Subscription, sub.id).status, invoice.attempt_count, invoice.last_reason_code,
            invoice.next_attempt_at) == ("past_due", 1, None, None)
