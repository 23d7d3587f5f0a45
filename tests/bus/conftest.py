"""Fixtures for the bridge tests: a private copy of the bus topology per test on the real RabbitMQ,
a queue observing the events exchange, and a TCP proxy that plays a broker going away and coming back."""
import json
import socket
import time
import uuid
from urllib.parse import urlsplit

import pika
import pytest

from portal.bus.cli import init_app as init_bus_cli
from portal.bus.topology import Topology, declare
from tests.bus.support import Observer, TcpProxy, write_events
from tests.factories import make_subscription
from tests.flows.conftest import billing  # noqa: F401  (whole flows: paid subscriptions, card checks)


@pytest.fixture
def amqp(test_config):
    """A connection of the test's own, for observing and publishing."""
    connection = pika.BlockingConnection(pika.URLParameters(test_config["AMQP_URL"]))
    yield connection
    if connection.is_open:
        connection.close()


@pytest.fixture
def topology(app, amqp, test_config):
    """Unique exchange and queue names for this test (BUS_PREFIX), declared, and removed afterwards."""
    topo = Topology(f"test-{uuid.uuid4().hex[:10]}.billing")
    previous = app.config.get("BUS_PREFIX")
    app.config["BUS_PREFIX"] = topo.prefix
    init_bus_cli(app)
    declare(amqp.channel(), topo)
    yield topo
    app.config["BUS_PREFIX"] = previous
    channel = pika.BlockingConnection(pika.URLParameters(test_config["AMQP_URL"])).channel()
    for queue in (topo.commands_queue, topo.dead_letter_queue):
        channel.queue_delete(queue)
    for exchange in (topo.events_exchange, topo.commands_exchange, topo.dead_letter_exchange):
        channel.exchange_delete(exchange)
    channel.connection.close()


@pytest.fixture
def events(topology, amqp):
    channel = amqp.channel()
    name = f"{topology.prefix}.observer"
    channel.queue_declare(name, durable=False, exclusive=True)
    channel.queue_bind(name, topology.events_exchange, routing_key="#")
    yield Observer(channel, name)
    if channel.is_open:
        channel.queue_delete(name)


@pytest.fixture
def dead_letters(topology, amqp):
    channel = amqp.channel()

    def read(settle: float = 0.3):
        time.sleep(settle)
        out = []
        while True:
            method, properties, body = channel.basic_get(topology.dead_letter_queue, auto_ack=True)
            if method is None:
                return out
            out.append((method, properties, body))

    return read


@pytest.fixture
def send_command(topology, amqp):
    """Publish a command the way another service would: to the commands exchange, confirmed."""
    channel = amqp.channel()
    channel.confirm_delivery()

    def send(payload, *, command=None, message_id=None, routing_key=None, raw: bytes | None = None):
        message_id = message_id if message_id is not None else uuid.uuid4().hex
        body = raw if raw is not None else json.dumps(payload).encode()
        channel.basic_publish(
            topology.commands_exchange, routing_key or command or "command", body,
            properties=pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                            message_id=message_id or None, type=command),
            mandatory=True,
        )
        return message_id

    return send


@pytest.fixture
def subscription_with_events():
    def make(count=1, **kwargs):
        sub = make_subscription(status="pending", **kwargs)
        write_events(sub, count)
        return sub

    return make


@pytest.fixture
def broker_proxy(test_config):
    proxy = TcpProxy(vhost_path=urlsplit(test_config["AMQP_URL"]).path)  # the suite's own vhost
    yield proxy
    proxy.stop()


@pytest.fixture
def closed_port_url():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"amqp://guest:guest@127.0.0.1:{port}/%2F"


