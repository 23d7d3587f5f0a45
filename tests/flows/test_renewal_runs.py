"""Many renewals due at once: charged a group per job, side by side, each exactly once."""
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import event, select

from portal import clock
from portal.billing import renewals
from portal.extensions import db
from portal.models import Invoice, Subscription, Transition
from portal.queue import billing_queue
from tests.admin.support import paid_subscription
from tests.flows.conftest import LATER_DECLINED_CARD, SUCCESS_CARD
from tests.flows.test_renewals import renewal_invoices
from workers import ticks


def subscriptions_paid_with(billing, cards):
    return [paid_subscription(billing, card=card) for card in cards]


def test_a_renewal_run_charges_each_card_once_a_group_per_job(billing, app):
    cards = [SUCCESS_CARD] * 9 + [LATER_DECLINED_CARD] * 3
    subs = subscriptions_paid_with(billing, cards)
    ends = {sub.id: sub.current_period_end for sub in subs}
    clock.freeze(max(ends.values()) + timedelta(minutes=1))

    assert ticks.renewals() == 12
    assert ticks.renewals() == 12  # a second tick while the jobs wait adds none
    size = app.config["RENEWAL_BATCH"]
    assert sorted(job.args[0] for job in billing_queue().jobs) == sorted(
        [sub.id for sub in subs if sub.id // size == group] for group in {sub.id // size for sub in subs})

    billing.work()
    billing.assert_no_failed_jobs()
    db.session.expire_all()
    for sub, card in zip(subs, cards, strict=True):
        sub = db.session.get(Subscription, sub.id)
        [renewal] = renewal_invoices(sub.id)
        answers = [t["Status"] for t in billing.provider_transactions(renewal.id)]
        if card == SUCCESS_CARD:
            assert (sub.status, renewal.status, answers) == ("active", "paid", ["Completed"])
            assert sub.current_period_start == ends[sub.id] and sub.current_period_end > ends[sub.id]
            assert db.session.scalars(select(Transition.event).where(
                Transition.entity_type == "subscription", Transition.entity_id == sub.id)
                .order_by(Transition.id)).all() == ["activate", "renew"]
        else:
            assert (sub.status, renewal.status, answers) == ("past_due", "open", ["Declined"])
            assert renewal.attempt_count == 1 and renewal.next_attempt_at is not None


def test_a_group_is_recorded_in_one_transaction_and_a_few_statements(billing, app):
    subs = subscriptions_paid_with(billing, [SUCCESS_CARD] * 6)
    clock.freeze(max(sub.current_period_end for sub in subs) + timedelta(minutes=1))
    ids = [sub.id for sub in subs]
    invoices = [renewals.open_renewal(sub_id) for sub_id in ids]
    from portal.billing.charging import charge_invoices

    commits, here = [], threading.get_ident()
    listener = lambda conn: commits.append(1) if threading.get_ident() == here else None  # noqa: E731
    event.listen(db.engine, "commit", listener)
    try:
        outcomes = charge_invoices(invoices, pool=renewals._charging_pool())
    finally:
        event.remove(db.engine, "commit", listener)
    assert outcomes == {invoice_id: "paid" for invoice_id in invoices}
    # One to read the group's cards under lock, one to record every answer (the live portal's own
    # commits, storing the Pay notifications the sandbox sends meanwhile, run on other threads).
    assert len(commits) == 2
    assert {db.session.get(Invoice, i).status for i in invoices} == {"paid"}


def test_more_charges_side_by_side_than_the_terminal_takes_wait_for_a_slot_without_a_429(billing, app,
                                                                                        monkeypatch):
    subs = subscriptions_paid_with(billing, [SUCCESS_CARD] * 6)
    clock.freeze(max(sub.current_period_end for sub in subs) + timedelta(minutes=1))
    invoices = [renewals.open_renewal(sub.id) for sub in subs]
    billing.sandbox("POST", "/control", json={"concurrency_limit": 2, "latency_ms": 200})
    billing.sandbox("POST", "/stats/reset")
    monkeypatch.setitem(app.config, "PROVIDER_CONCURRENCY", 2)
    app.extensions.pop("payment_provider", None)  # built again from the configuration
    from portal.billing.charging import charge_invoices

    try:
        with ThreadPoolExecutor(6) as six_side_by_side:
            outcomes = charge_invoices(invoices, pool=six_side_by_side)
    finally:
        app.extensions.pop("payment_provider", None)

    assert outcomes == {invoice_id: "paid" for invoice_id in invoices}
    stats = billing.sandbox("GET", "/stats").json()
    assert (stats["rejected_429"], stats["in_flight_max"]) == (0, 2)
    assert all(len(billing.provider_transactions(invoice_id)) == 1 for invoice_id in invoices)
