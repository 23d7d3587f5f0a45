"""`flask bus …`: the RabbitMQ bridge processes and their inspection commands.

`flask bus run` is the Procfile's `bridge` process: the outbox relay and the command consumer in one
process, each in its own thread with its own AMQP connection and database session."""
import json
import logging
import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from portal.bus import schemas
from portal.bus.amqp import close_quietly, connect
from portal.bus.consumer import DEFAULT_PREFETCH, run_consumer
from portal.bus.relay import outbox_backlog, run_relay
from portal.bus.topology import current_topology, declare

bus = AppGroup("bus", help="The RabbitMQ bridge: outbox relay, command consumer, topology and schemas.")


def init_app(app):
    app.cli.add_command(bus)


def _logging():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)  # pika logs every connection step at INFO


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def _handler(signum, frame):
        click.echo(f"signal {signum}: stopping after the current message/batch", err=True)
        stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
    return stop


@bus.command("topology")
@click.option("--no-declare", is_flag=True, help="Only print the topology; do not connect to RabbitMQ.")
def topology_command(no_declare):
    """Declare the exchanges, queues and bindings (idempotent) and print them as JSON."""
    topology = current_topology()
    if no_declare:
        spec = topology.describe()
    else:
        connection = connect(client_name="billing-portal topology")
        try:
            spec = declare(connection.channel(), topology)
        finally:
            close_quietly(connection)
    click.echo(json.dumps(spec, indent=2))


@bus.command("relay")
@click.option("--batch-size", default=100, show_default=True)
@click.option("--poll", "poll_seconds", default=1.0, show_default=True, help="Seconds between polls when idle.")
def relay_command(batch_size, poll_seconds):
    """Relay the outbox to the events exchange until stopped."""
    _logging()
    run_relay(_stop_on_signals(), batch_size=batch_size, poll_seconds=poll_seconds)


@bus.command("consume")
@click.option("--prefetch", default=DEFAULT_PREFETCH, show_default=True)
def consume_command(prefetch):
    """Consume the commands queue until stopped."""
    _logging()
    run_consumer(_stop_on_signals(), prefetch=prefetch)


@bus.command("run")
@click.option("--batch-size", default=100, show_default=True)
@click.option("--prefetch", default=DEFAULT_PREFETCH, show_default=True)
def run_command(batch_size, prefetch):
    """The bridge process: relay and consumer together, one thread and one connection each."""
    _logging()
    stop = _stop_on_signals()
    app = current_app._get_current_object()
    failures = []

    def _in_app(target, **kwargs):
        def body():
            with app.app_context():
                try:
                    target(stop, **kwargs)
                except BaseException as exc:  # one half dying stops the whole bridge, loudly
                    failures.append(exc)
                    logging.getLogger("portal.bus").exception("%s stopped the bridge", target.__name__)
                    stop.set()
        return threading.Thread(target=body, name=target.__name__, daemon=True)

    threads = [_in_app(run_relay, batch_size=batch_size), _in_app(run_consumer, prefetch=prefetch)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        stop.wait(1.0)
        if stop.is_set():
            for thread in threads:
                thread.join(timeout=30)
            break
    if failures:
        raise SystemExit(1)


@bus.command("backlog")
def backlog_command():
    """Print the unpublished outbox rows and the oldest one's age."""
    click.echo(json.dumps(outbox_backlog()))


@bus.command("schema")
@click.argument("name", required=False)
def schema_command(name):
    """Print a published JSON Schema (e.g. commands/customer.upsert), or list them without NAME."""
    published = schemas.all_schemas()
    if name is None:
        for key in published:
            click.echo(key)
        return
    if name not in published:
        raise click.BadParameter(f"no schema {name!r}; try one of: {', '.join(published)}")
    click.echo(json.dumps(published[name], indent=2, ensure_ascii=False))
