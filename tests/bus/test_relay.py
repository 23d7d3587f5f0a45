"""The outbox relay: exactly-once in the normal case, in order per subscription, nothing lost when the
broker is away or a relay dies between publishing and marking."""
import json
import os
import subprocess
import sys
import threading

import pika
import pytest
from sqlalchemy import select

from portal.bus import schemas
from portal.bus.relay import OutboxRelay, claim_batch, outbox_backlog, relay_once, run_relay
from portal.extensions import db
from portal.machines import atomic, fire, lock
from portal.models import OutboxMessage, Payment, Refund, Subscription
from tests.bus.support import wait_until
from tests.factories import make_invoice, make_subscription


def outbox_rows():
    db.session.expire_all()
    return db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def assert_per_subscription_order(messages):
    seen = {}
    for _, _, envelope in messages:
        sub_id = envelope["data"]["subscription_id"]
        assert int(envelope["id"]) > seen.get(sub_id, 0), f"subscription {sub_id} event out of order"
        seen[sub_id] = int(envelope["id"])


def test_committed_outbox_row_is_published_once_with_its_id_as_message_id(app, topology, events,
                                                                          subscription_with_events):
    sub = subscription_with_events(1)
    [row] = outbox_rows()

    assert relay_once(batch_size=10) == 1

    [(method, props, envelope)] = events.messages()
    assert method.exchange == topology.events_exchange
    assert method.routing_key == "subscription.activated"
    assert props.message_id == str(row.id)
    assert props.type == "subscription.activated"
    assert props.content_type == "application/json"
    assert props.delivery_mode == 2
    assert envelope == json.loads(json.dumps(row.envelope))
    assert envelope["data"]["subscription_id"] == sub.id
    assert envelope["data"]["customer"]["external_id"] == sub.customer.external_id
    assert list(schemas.event_validator(envelope["type"]).iter_errors(envelope)) == []

    [row] = outbox_rows()
    assert row.published_at is not None and row.publish_attempts == 1
    assert relay_once(batch_size=10) == 0
    assert events.messages() == []
    assert outbox_backlog()["unpublished"] == 0


def test_every_published_event_matches_its_schema(app, topology, events, subscription_with_events):
    subscription_with_events(5)
    sub = make_subscription(status="active")
    invoice = make_invoice(subscription=sub, status="open")
    with atomic():
        fire(lock(Subscription, sub.id), "cancel", actor="test", cause="schema check")
    with atomic():
        paid = Payment(provider="sandbox", provider_transaction_id="tx-1", invoice_id=invoice.id,
                       customer_id=sub.customer_id, amount=invoice.amount, currency=invoice.currency)
        db.session.add(paid)
        fire(paid, "complete", actor="provider", cause="pay notification")
    with atomic():
        failed = Payment(provider="sandbox", provider_transaction_id="tx-2", invoice_id=invoice.id,
                         customer_id=sub.customer_id, amount=invoice.amount, currency=invoice.currency,
                         reason_code=5051, reason="Insufficient funds")
        db.session.add(failed)
        fire(failed, "decline", actor="provider", cause="fail notification")
    with atomic():
        refund = Refund(payment_id=paid.id, provider="sandbox", amount=1000, currency=invoice.currency,
                        reason="goodwill", requested_by="staff:1")
        db.session.add(refund)
        fire(refund, "succeed", actor="provider", cause="refund notification")

    assert relay_once(batch_size=100) == 9
    messages = events.messages()
    assert {m.routing_key for m, _, _ in messages} == {
        "subscription.activated", "subscription.past_due", "subscription.renewed", "subscription.canceled",
        "payment.succeeded", "payment.failed", "refund.succeeded"}
    for _, _, envelope in messages:
        assert list(schemas.event_validator(envelope["type"]).iter_errors(envelope)) == [], envelope


def test_relay_publishes_a_subscriptions_events_in_the_order_written(app, topology, events,
                                                                    subscription_with_events):
    subscription_with_events(6)
    assert relay_once(batch_size=4) == 4
    assert relay_once(batch_size=4) == 2
    messages = events.messages()
    assert [int(e["id"]) for _, _, e in messages] == [r.id for r in outbox_rows()]
    assert [m.routing_key for m, _, _ in messages] == [
        "subscription.activated", "subscription.past_due", "subscription.renewed",
        "subscription.past_due", "subscription.renewed", "subscription.past_due"]


def test_relay_skips_a_subscription_whose_earlier_event_another_relay_holds(app, topology, events,
                                                                           subscription_with_events):
    held = subscription_with_events(3)
    other = subscription_with_events(2)
    holding, release = threading.Event(), threading.Event()

    def first_relay_mid_batch():
        # Another relay has claimed only the oldest row (held's activation) and not yet published it.
        with app.app_context():
            rows = claim_batch(1)
            assert [r.aggregate_id for r in rows] == [held.id]
            holding.set()
            release.wait(10)
            db.session.rollback()

    thread = threading.Thread(target=first_relay_mid_batch)
    thread.start()
    try:
        assert holding.wait(10)
        # Held's later events must wait for its first; the other subscription goes ahead.
        assert relay_once(batch_size=100) == 2
        published = events.messages()
        assert {e["data"]["subscription_id"] for _, _, e in published} == {other.id}
    finally:
        release.set()
        thread.join()

    assert relay_once(batch_size=100) == 3
    later = events.messages()
    assert [e["data"]["subscription_id"] for _, _, e in later] == [held.id] * 3
    assert_per_subscription_order(published + later)


def test_two_relays_at_once_publish_every_row_exactly_once_and_in_order(app, topology, events,
                                                                       subscription_with_events):
    for _ in range(8):
        subscription_with_events(5)
    total = len(outbox_rows())
    errors = []

    def relay_until_empty():
        with app.app_context():
            try:
                while outbox_backlog()["unpublished"]:
                    relay_once(batch_size=3)
                    db.session.rollback()
            except Exception as exc:  # surfaced in the main thread
                errors.append(exc)

    threads = [threading.Thread(target=relay_until_empty) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    messages = events.messages()
    ids = [e["id"] for _, _, e in messages]
    assert len(ids) == total == 40
    assert len(set(ids)) == total
    assert_per_subscription_order(messages)
    assert all(r.published_at is not None for r in outbox_rows())


def test_broker_down_leaves_rows_unpublished_until_it_returns(app, topology, events, subscription_with_events,
                                                             closed_port_url):
    subscription_with_events(2)

    with pytest.raises(pika.exceptions.AMQPConnectionError):
        relay_once(batch_size=10, url=closed_port_url)

    assert outbox_backlog()["unpublished"] == 2
    assert events.messages() == []
    assert relay_once(batch_size=10) == 2
    assert len(events.messages()) == 2


def test_relay_loop_backs_off_and_reconnects_when_the_broker_goes_and_returns(app, topology, events,
                                                                            subscription_with_events,
                                                                            broker_proxy):
    stop = threading.Event()

    def loop():
        with app.app_context():
            run_relay(stop, batch_size=5, poll_seconds=0.1, url=broker_proxy.url, max_backoff=0.5)

    relay = threading.Thread(target=loop)
    relay.start()  # the proxy is not listening yet: the broker is down
    try:
        subscription_with_events(3)
        assert not wait_until(lambda: outbox_backlog()["unpublished"] < 3, timeout=1.5)
        assert relay.is_alive()

        broker_proxy.start()  # the broker returns
        assert wait_until(lambda: outbox_backlog()["unpublished"] == 0)

        broker_proxy.stop()  # and goes away again, cutting the relay's connection
        subscription_with_events(4)
        assert not wait_until(lambda: outbox_backlog()["unpublished"] < 4, timeout=1.0)
        broker_proxy.start()
        assert wait_until(lambda: outbox_backlog()["unpublished"] == 0)
    finally:
        stop.set()
        relay.join(timeout=10)

    messages = events.messages()
    ids = [e["id"] for _, _, e in messages]
    assert sorted(ids, key=int) == [str(r.id) for r in outbox_rows()]
    assert len(set(ids)) == 7
    assert_per_subscription_order(messages)


KILLED_RELAY = """
import json, os, signal, sys
from portal import create_app
from portal.bus.relay import OutboxRelay, claim_batch, message_properties
app = create_app(json.loads(os.environ["TEST_CONFIG"]))
with app.app_context():
    relay = OutboxRelay(batch_size=10)
    relay.open()
    for row in claim_batch(10):
        relay.channel.basic_publish(relay.topology.events_exchange, row.routing_key,
                                    json.dumps(row.envelope).encode(), properties=message_properties(row))
    print("published, now dying before the commit", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_relay_killed_between_publish_and_mark_republishes_the_same_message_ids(app, topology, events, test_config,
                                                                              subscription_with_events):
    subscription_with_events(2)
    env = {**os.environ, "TEST_CONFIG": json.dumps({**test_config, "BUS_PREFIX": topology.prefix})}
    done = subprocess.run([sys.executable, "-c", KILLED_RELAY], env=env, cwd=app.root_path + "/..",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == -9, done.stderr
    first = events.messages()
    assert len(first) == 2
    assert outbox_backlog()["unpublished"] == 2  # the dead relay's transaction rolled back

    assert relay_once(batch_size=10) == 2
    second = events.messages()
    assert [p.message_id for _, p, _ in second] == [p.message_id for _, p, _ in first]
    assert all(r.published_at is not None for r in outbox_rows())


def test_outbox_backlog_counts_unpublished_rows_and_the_oldest_age(app, topology, subscription_with_events):
    assert outbox_backlog() == {"unpublished": 0, "oldest_age_seconds": 0.0}
    subscription_with_events(3)
    backlog = outbox_backlog()
    assert backlog["unpublished"] == 3
    assert backlog["oldest_age_seconds"] >= 0
    relay = OutboxRelay(batch_size=2)
    try:
        assert relay.relay_batch() == 2
    finally:
        relay.close()
    assert outbox_backlog()["unpublished"] == 1
