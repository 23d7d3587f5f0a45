"""The topology declared from code (idempotently, with the real names too) and the `flask bus` commands."""
import json
import threading

import pika

from portal.bus.consumer import run_consumer
from portal.bus.relay import outbox_backlog, run_relay
from portal.bus.topology import Topology, declare
from tests.bus.support import wait_until


def test_topology_declared_twice_is_fine_with_the_real_names(app, test_config):
    connection = pika.BlockingConnection(pika.URLParameters(test_config["AMQP_URL"]))
    try:
        channel = connection.channel()
        first = declare(channel, Topology())
        second = declare(channel, Topology())
        assert first == second
        assert {e["name"] for e in first["exchanges"]} == {"billing.events", "billing.commands",
                                                            "billing.commands.dlx"}
        # Passive declares succeed only when the objects exist as described.
        channel.exchange_declare("billing.events", exchange_type="topic", durable=True, passive=True)
        channel.queue_declare("billing.commands", durable=True, passive=True)
        channel.queue_declare("billing.commands.dlq", durable=True, passive=True)
    finally:
        connection.close()


def test_commands_queue_dead_letters_a_plain_nack_to_the_dlq(app, topology, amqp, send_command, dead_letters):
    send_command({"external_id": "x", "email": "x@example.com"}, command="customer.upsert")
    channel = amqp.channel()
    method, _, _ = channel.basic_get(topology.commands_queue)
    channel.basic_nack(method.delivery_tag, requeue=False)
    [(_, props, _)] = dead_letters()
    assert props.headers["x-death"][0]["queue"] == topology.commands_queue


def test_topology_command_declares_and_prints(runner, topology):
    result = runner.invoke(args=["bus", "topology"])
    assert result.exit_code == 0, result.output
    spec = json.loads(result.output)
    assert [q["name"] for q in spec["queues"]] == [topology.commands_queue, topology.dead_letter_queue]
    assert spec["queues"][0]["arguments"] == {"x-dead-letter-exchange": topology.dead_letter_exchange}


def test_schema_command_lists_and_prints_the_published_schemas(runner, topology):
    listing = runner.invoke(args=["bus", "schema"])
    assert listing.exit_code == 0
    assert {"commands/customer.upsert", "commands/customer.deleted", "commands/subscription.cancel",
            "commands/subscription.grant", "commands/subscription.change_plan", "events/subscription", "events/payment",
            "events/refund"} <= set(listing.output.split())
    shown = runner.invoke(args=["bus", "schema", "commands/subscription.cancel"])
    assert json.loads(shown.output)["title"] == "subscription.cancel"
    assert runner.invoke(args=["bus", "schema", "nope"]).exit_code != 0


def test_backlog_command_reports_the_outbox(runner, topology, subscription_with_events):
    subscription_with_events(2)
    result = runner.invoke(args=["bus", "backlog"])
    assert json.loads(result.output)["unpublished"] == 2


def test_relay_and_consumer_run_side_by_side_as_the_bridge_does(app, topology, events, send_command,
                                                                subscription_with_events):
    """What `flask bus run` starts: both loops in threads of one process, one connection each."""
    stop = threading.Event()

    def in_app(loop, **kwargs):
        def body():
            with app.app_context():
                loop(stop, **kwargs)
        return threading.Thread(target=body)

    threads = [in_app(run_relay, poll_seconds=0.1, max_backoff=0.5), in_app(run_consumer, max_backoff=0.5)]
    for thread in threads:
        thread.start()
    try:
        subscription_with_events(2)
        send_command({"external_id": "auth-b", "email": "b@example.com"}, command="customer.upsert")
        assert wait_until(lambda: outbox_backlog()["unpublished"] == 0)
        from portal.extensions import db
        from portal.models import User
        assert wait_until(lambda: db.session.execute(
            db.select(User).where(User.external_id == "auth-b")).first() is not None)
        db.session.rollback()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    assert len(events.messages()) == 2


BRIDGE = """
import json, os
from portal import create_app
from portal.bus import cli
app = create_app(json.loads(os.environ["TEST_CONFIG"]))
cli.init_app(app)
result = app.test_cli_runner().invoke(args=["bus", "run", "--prefetch", "5"])
print(result.output, result.exception)
raise SystemExit(result.exit_code)
"""


def test_bus_run_process_consumes_relays_and_stops_cleanly_on_sigterm(app, topology, events, test_config,
                                                                      send_command, subscription_with_events):
    import os
    import signal
    import subprocess
    import sys

    from portal.extensions import db
    from portal.models import User

    env = {**os.environ, "TEST_CONFIG": json.dumps({**test_config, "BUS_PREFIX": topology.prefix})}
    bridge = subprocess.Popen([sys.executable, "-c", BRIDGE], env=env, cwd=app.root_path + "/..",
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = ""
    try:
        subscription_with_events(1)
        send_command({"external_id": "auth-r", "email": "r@example.com"}, command="customer.upsert")
        assert wait_until(lambda: outbox_backlog()["unpublished"] == 0, timeout=20)
        assert wait_until(lambda: db.session.execute(
            db.select(User).where(User.external_id == "auth-r")).first() is not None, timeout=20)
        db.session.rollback()
    finally:
        bridge.send_signal(signal.SIGTERM)
        output, _ = bridge.communicate(timeout=30)
        print(output)
    assert bridge.returncode == 0, output
    assert len(events.messages()) == 1
