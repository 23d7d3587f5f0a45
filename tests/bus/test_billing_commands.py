"""Commands that reach the billing services: cancel, grant and the deletion of a customer, each applied
once with the bus message as actor and cause; refusals dead-lettered with the service's message."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.bus.consumer import consume_available
from portal.extensions import db
from portal.models import Invoice, Subscription, Transition, User
from tests.factories import make_customer, make_plan, make_subscription


def fresh(model, id):
    db.session.expire_all()
    return db.session.get(model, id)


@pytest.fixture
def cancel_jobs():
    """The RQ jobs a cancel command enqueues, removed again so other tests start clean."""
    from portal.queue import billing_queue

    made = []

    def job(subscription_id, when):
        job_id = f"cancel-{subscription_id}-{when}"
        made.append(job_id)
        return billing_queue().fetch_job(job_id)

    yield job
    for job_id in made:
        stale = billing_queue().fetch_job(job_id)
        if stale is not None:
            stale.delete()


def test_cancel_at_period_end_enqueues_the_cancellation_as_the_bus_message(app, topology, send_command,
                                                                         cancel_jobs):
    pytest.importorskip("portal.billing.cancellation")
    sub = make_subscription(status="active")
    assert cancel_jobs(sub.id, "period_end") is None

    message_id = send_command({"subscription_id": sub.id}, command="subscription.cancel")
    assert [o.status for o in consume_available()] == ["processed"]

    job = cancel_jobs(sub.id, "period_end")
    assert job is not None and job.kwargs["actor"] == f"bus:{message_id}"
    job.perform()
    sub = fresh(Subscription, sub.id)
    assert (sub.status, sub.cancel_at_period_end) == ("active", True)
    [transition] = db.session.scalars(select(Transition).where(Transition.entity_id == sub.id)).all()
    assert transition.actor == f"bus:{message_id}"
    assert transition.cause == f"subscription.cancel {message_id}"


def test_cancel_by_customer_external_id_cancels_their_live_subscriptions(app, topology, send_command,
                                                                        cancel_jobs):
    pytest.importorskip("portal.billing.cancellation")
    customer = make_customer(external_id="auth-c1")
    sub = make_subscription(status="active", customer=customer)
    send_command({"customer_external_id": "auth-c1", "when": "now"}, command="subscription.cancel")
    assert [o.status for o in consume_available()] == ["processed"]
    assert cancel_jobs(sub.id, "now") is not None


@pytest.mark.parametrize("payload,reason", [
    ({"subscription_id": 999999}, "subscription 999999 does not exist"),
    ({"customer_external_id": "nobody"}, "no customer with external id 'nobody'"),
])
def test_cancel_of_something_unknown_is_dead_lettered(app, topology, send_command, dead_letters, payload, reason):
    pytest.importorskip("portal.billing.cancellation")
    send_command(payload, command="subscription.cancel")
    [outcome] = consume_available()
    assert outcome.status == "rejected"
    [(_, props, _)] = dead_letters()
    assert reason in props.headers["x-rejection-reason"]


def test_grant_gives_a_complimentary_period_once(app, topology, send_command):
    pytest.importorskip("portal.billing.grants")
    customer = make_customer(external_id="auth-g1")
    make_plan(code="premium")
    message_id = send_command({"customer_external_id": "auth-g1", "plan_code": "premium", "days": 14},
                              command="subscription.grant")
    send_command({"customer_external_id": "auth-g1", "plan_code": "premium", "days": 14},
                 command="subscription.grant", message_id=message_id)

    assert [o.status for o in consume_available()] == ["processed", "duplicate"]
    [sub] = db.session.scalars(select(Subscription).where(Subscription.customer_id == customer.id)).all()
    assert sub.status == "active"
    assert abs(sub.current_period_end - (clock.now() + timedelta(days=14))) < timedelta(minutes=5)
    [invoice] = db.session.scalars(select(Invoice).where(Invoice.subscription_id == sub.id)).all()
    assert invoice.amount == 0


def test_grant_of_an_unknown_plan_is_dead_lettered(app, topology, send_command, dead_letters):
    pytest.importorskip("portal.billing.grants")
    make_customer(external_id="auth-g2")
    send_command({"customer_external_id": "auth-g2", "plan_code": "no-such-plan", "days": 7},
                 command="subscription.grant")
    [outcome] = consume_available()
    assert outcome.status == "rejected"
    [(_, props, _)] = dead_letters()
    assert "no plan with code 'no-such-plan'" in props.headers["x-rejection-reason"]
    assert db.session.scalars(select(Subscription)).all() == []


def test_customer_deleted_cancels_and_anonymises_keeping_invoices(app, topology, send_command):
    pytest.importorskip("portal.billing.customers")
    customer = make_customer(email="leaving@example.com", external_id="auth-d1")
    sub = make_subscription(status="active", customer=customer)
    send_command({"external_id": "auth-d1"}, command="customer.deleted")

    assert [o.status for o in consume_available()] == ["processed"]
    user = fresh(User, customer.id)
    assert user.email is None and user.anonymized_at is not None
    assert fresh(Subscription, sub.id).status == "canceled"


def test_pause_and_resume_commands_schedule_and_take_back_a_pause(app, topology, send_command, dead_letters):
    from portal.queue import billing_queue

    sub = make_subscription(status="active")
    send_command({"subscription_id": sub.id, "months": 2}, command="subscription.pause")
    assert [o.status for o in consume_available()] == ["processed"]
    billing_queue().fetch_job(f"pause-{sub.id}-2").perform()
    assert fresh(Subscription, sub.id).resumes_at is not None

    send_command({"subscription_id": sub.id}, command="subscription.resume")
    assert [o.status for o in consume_available()] == ["processed"]
    billing_queue().fetch_job(f"resume-{sub.id}-active").perform()
    assert fresh(Subscription, sub.id).resumes_at is None

    send_command({"subscription_id": sub.id, "months": 5}, command="subscription.pause")
    assert [o.status for o in consume_available()] == ["rejected"]


def test_change_plan_command_schedules_a_downgrade_as_the_bus_message_and_can_undo_it(app, topology, send_command):
    from rq import SimpleWorker

    from portal.queue import billing_queue

    premium = make_plan(code="bus-premium", amount=49900)
    make_plan(code="bus-basic", amount=29900)
    sub = make_subscription(status="active", plan=premium)

    message_id = send_command({"subscription_id": sub.id, "plan": "bus-basic"}, command="subscription.change_plan")
    assert [o.status for o in consume_available()] == ["processed"]
    queue = billing_queue()
    SimpleWorker([queue], connection=queue.connection).work(burst=True)

    sub = fresh(Subscription, sub.id)
    assert (sub.plan.code, sub.scheduled_plan.code) == ("bus-premium", "bus-basic")
    [transition] = db.session.scalars(select(Transition).where(Transition.entity_id == sub.id)).all()
    assert (transition.event, transition.actor) == ("schedule_plan_change", f"bus:{message_id}")
    assert transition.cause == f"subscription.change_plan {message_id}"

    send_command({"subscription_id": sub.id, "plan": "bus-premium", "when": "period_end"},
                 command="subscription.change_plan")
    assert [o.status for o in consume_available()] == ["processed"]
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert fresh(Subscription, sub.id).scheduled_plan_id is None


def test_change_plan_command_upgrade_opens_the_proration_invoice(app, topology, send_command):
    basic = make_plan(code="bus-basic", amount=29900)
    make_plan(code="bus-premium", amount=49900)
    sub = make_subscription(status="active", plan=basic)

    send_command({"subscription_id": sub.id, "plan": "bus-premium", "when": "now"}, command="subscription.change_plan")
    assert [o.status for o in consume_available()] == ["processed"]

    [invoice] = db.session.scalars(select(Invoice).where(Invoice.subscription_id == sub.id)).all()
    assert (invoice.kind, invoice.status, invoice.plan.code) == ("proration", "open", "bus-premium")
    assert invoice.amount > 0


@pytest.mark.parametrize("payload,reason", [
    ({"subscription_id": 1, "plan": "bus-basic", "when": "now"}, "a downgrade takes effect at the period end"),
    ({"subscription_id": 1, "plan": "bus-premium"}, "is on bus-premium already"),
    ({"subscription_id": 1, "plan": "gold"}, "no plan with code 'gold'"),
    ({"subscription_id": 1}, "schema: 'plan' is a required property"),
])
def test_change_plan_command_that_cannot_be_made_is_dead_lettered(app, topology, send_command, dead_letters,
                                                                 payload, reason):
    premium = make_plan(code="bus-premium", amount=49900)
    make_plan(code="bus-basic", amount=29900)
    make_subscription(status="active", plan=premium)
    send_command(payload, command="subscription.change_plan")
    [outcome] = consume_available()
    assert outcome.status == "rejected"
    [(_, props, _)] = dead_letters()
    assert reason in props.headers["x-rejection-reason"]


def test_move_price_command_schedules_the_plans_price_once_and_announces_it(app, topology, send_command,
                                                                            dead_letters):
    from portal.models import OutboxMessage

    plan = make_plan(code="bus-monthly", amount=29900)
    sub = make_subscription(status="active", plan=plan)
    plan.amount = 34900
    db.session.commit()

    message_id = send_command({"subscription_id": sub.id}, command="subscription.move_price")
    send_command({"subscription_id": sub.id}, command="subscription.move_price", message_id=message_id)
    assert [o.status for o in consume_available()] == ["processed", "duplicate"]

    sub = fresh(Subscription, sub.id)
    assert (sub.amount, sub.scheduled_amount) == (29900, 34900)
    [transition] = db.session.scalars(select(Transition).where(Transition.entity_id == sub.id)).all()
    assert (transition.event, transition.actor, transition.cause) == (
        "schedule_price_change", f"bus:{message_id}", f"subscription.move_price {message_id}")
    [event] = db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.routing_key == "subscription.price_change_scheduled")).all()
    assert event.payload["scheduled_price"]["amount"] == 34900

    send_command({"subscription_id": sub.id}, command="subscription.move_price")  # a new id: nothing left to move
    assert [o.status for o in consume_available()] == ["rejected"]
    [(_, props, _)] = dead_letters()
    assert "already moving to the plan's price" in props.headers["x-rejection-reason"]


@pytest.mark.parametrize("payload,reason", [
    ({"subscription_id": 999999}, "Subscription 999999 does not exist"),
    ({}, "schema: 'subscription_id' is a required property"),
    ({"subscription_id": 1, "amount": 100}, "schema: Additional properties are not allowed"),
])
def test_move_price_command_that_cannot_be_made_is_dead_lettered(app, topology, send_command, dead_letters,
                                                                payload, reason):
    send_command(payload, command="subscription.move_price")
    [outcome] = consume_available()
    assert outcome.status == "rejected"
    [(_, props, _)] = dead_letters()
    assert reason in props.headers["x-rejection-reason"]
