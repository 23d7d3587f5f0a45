"""The command consumer: each command applied once, bad ones dead-lettered with a readable reason,
and the consumer carrying on with the next message."""
import json
import threading
import time

import pika
import pytest
from sqlalchemy import func, select

from portal.bus.consumer import CommandConsumer, consume_available, process_command, run_consumer
from portal.extensions import db
from portal.models import BusMessage, User
from tests.bus.support import wait_until
from tests.factories import make_customer


def users_by_external_id(external_id):
    db.session.expire_all()
    return db.session.scalars(select(User).where(User.external_id == external_id)).all()


def inbox():
    db.session.expire_all()
    return db.session.scalars(select(BusMessage).order_by(BusMessage.id)).all()


def queue_depth(amqp, queue):
    return amqp.channel().queue_declare(queue, passive=True).method.message_count


def test_customer_upsert_creates_then_updates_the_customer(app, topology, send_command):
    send_command({"external_id": "auth-1", "email": "Anna@Example.com", "name": "Anna"},
                 command="customer.upsert")
    assert [o.status for o in consume_available()] == ["processed"]
    [user] = users_by_external_id("auth-1")
    assert (user.email, user.name, user.role) == ("anna@example.com", "Anna", "customer")

    send_command({"external_id": "auth-1", "email": "anna.new@example.com", "name": "Anna K."},
                 command="customer.upsert")
    assert [o.status for o in consume_available()] == ["processed"]
    [user] = users_by_external_id("auth-1")
    assert (user.email, user.name) == ("anna.new@example.com", "Anna K.")
    assert db.session.scalar(select(func.count(User.id))) == 1
    assert [m.status for m in inbox()] == ["processed", "processed"]


def test_customer_upsert_links_an_account_made_on_the_web(app, topology, send_command):
    web = make_customer(email="viewer@example.com", external_id=None)
    web.external_id = None
    db.session.commit()
    send_command({"external_id": "auth-9", "email": "viewer@example.com"}, command="customer.upsert")
    assert [o.status for o in consume_available()] == ["processed"]
    [user] = users_by_external_id("auth-9")
    assert user.id == web.id


def test_duplicate_command_has_one_effect(app, topology, send_command):
    message_id = send_command({"external_id": "auth-2", "email": "b@example.com", "name": "First"},
                              command="customer.upsert")
    send_command({"external_id": "auth-2", "email": "b@example.com", "name": "Second"},
                 command="customer.upsert", message_id=message_id)

    assert [o.status for o in consume_available()] == ["processed", "duplicate"]
    [user] = users_by_external_id("auth-2")
    assert user.name == "First"
    [row] = inbox()
    assert (row.message_id, row.command, row.status) == (message_id, "customer.upsert", "processed")


def test_command_name_may_come_from_the_routing_key(app, topology, send_command):
    send_command({"external_id": "auth-3", "email": "c@example.com"}, routing_key="customer.upsert")
    assert [o.status for o in consume_available()] == ["processed"]
    assert len(users_by_external_id("auth-3")) == 1


BAD_MESSAGES = [
    ("malformed-json", dict(raw=b"{not json", command="customer.upsert"), "malformed JSON"),
    ("not-an-object", dict(raw=b"[1, 2]", command="customer.upsert"), "schema: [1, 2] is not of type 'object'"),
    ("unknown-command", dict(payload={"x": 1}, command="customer.promote"), "unknown command 'customer.promote'"),
    ("schema-failure", dict(payload={"external_id": "auth-4"}, command="customer.upsert"),
     "schema: 'email' is a required property"),
    ("extra-field", dict(payload={"external_id": "a", "email": "a@b.c", "role": "staff"}, command="customer.upsert"),
     "Additional properties are not allowed"),
    ("missing-message-id", dict(payload={"external_id": "a", "email": "a@b.c"}, command="customer.upsert",
                                message_id=""), "missing message_id"),
]


@pytest.mark.parametrize("kwargs,reason", [(k, r) for _, k, r in BAD_MESSAGES], ids=[i for i, _, _ in BAD_MESSAGES])
def test_bad_command_is_dead_lettered_with_its_reason_and_the_next_one_still_runs(
        app, topology, amqp, send_command, dead_letters, kwargs, reason):
    kwargs = dict(kwargs)
    bad_id = send_command(kwargs.pop("payload", None), **kwargs)
    good_id = send_command({"external_id": "auth-5", "email": "e@example.com"}, command="customer.upsert")

    outcomes = consume_available()

    assert [o.status for o in outcomes] == ["rejected", "processed"]
    assert len(users_by_external_id("auth-5")) == 1
    [(method, props, body)] = dead_letters()
    assert reason in props.headers["x-rejection-reason"]
    assert props.headers["x-original-exchange"] == topology.commands_exchange
    assert props.message_id == (bad_id or None)
    assert body == (kwargs.get("raw") or body)
    assert queue_depth(amqp, topology.commands_queue) == 0
    statuses = {m.message_id: m.status for m in inbox()}
    assert statuses[good_id] == "processed"
    if bad_id:
        assert statuses[bad_id] == "failed"


def test_handler_refusal_is_dead_lettered_and_recorded_in_the_inbox(app, topology, send_command, dead_letters):
    make_customer(email="taken@example.com", external_id="auth-owner")
    message_id = send_command({"external_id": "auth-6", "email": "taken@example.com"}, command="customer.upsert")

    [outcome] = consume_available()

    assert outcome.status == "rejected" and outcome.stage == "handler"
    [(_, props, _)] = dead_letters()
    assert "belongs to another account" in props.headers["x-rejection-reason"]
    assert props.headers["x-rejection-stage"] == "handler"
    [row] = inbox()
    assert (row.message_id, row.status) == (message_id, "failed")
    assert "belongs to another account" in row.error
    assert users_by_external_id("auth-6") == []


def test_consumer_killed_before_its_ack_gets_the_message_again_and_applies_it_once(
        app, topology, amqp, test_config, send_command):
    message_id = send_command({"external_id": "auth-7", "email": "g@example.com", "name": "Once"},
                              command="customer.upsert")
    # A consumer that handles and commits, then dies before acking: its connection drops unacked.
    dying = pika.BlockingConnection(pika.URLParameters(test_config["AMQP_URL"]))
    method, props, body = dying.channel().basic_get(topology.commands_queue, auto_ack=False)
    assert process_command(body, props, method.routing_key).status == "processed"
    dying.close()

    outcomes = consume_available()

    assert [(o.status, o.message_id) for o in outcomes] == [("duplicate", message_id)]
    assert len(users_by_external_id("auth-7")) == 1
    assert len(inbox()) == 1
    assert queue_depth(amqp, topology.commands_queue) == 0


def test_prefetch_is_bounded(app, topology, amqp, send_command):
    for n in range(5):
        send_command({"external_id": f"auth-p{n}", "email": f"p{n}@example.com"}, command="customer.upsert")
    consumer = CommandConsumer(prefetch=2)
    try:
        consumer.open()
        deliveries = consumer.channel.consume(topology.commands_queue, inactivity_timeout=1)
        method, _, _ = next(deliveries)
        assert method is not None
        # Nothing acked yet: the broker hands this consumer at most two messages; three stay ready.
        assert wait_until(lambda: queue_depth(amqp, topology.commands_queue) == 3, timeout=2)
        time.sleep(0.3)
        assert queue_depth(amqp, topology.commands_queue) == 3
    finally:
        consumer.close()
    assert wait_until(lambda: queue_depth(amqp, topology.commands_queue) == 5, timeout=2)


def test_consumer_loop_keeps_consuming_and_stops_on_request(app, topology, send_command):
    stop = threading.Event()

    def loop():
        with app.app_context():
            run_consumer(stop, max_backoff=0.5)

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        send_command(None, raw=b"\xff\xfe", command="customer.upsert")
        send_command({"external_id": "auth-8", "email": "h@example.com"}, command="customer.upsert")
        assert wait_until(lambda: len(users_by_external_id("auth-8")) == 1)
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert json.loads(json.dumps([m.status for m in inbox()])) == ["failed", "processed"]
