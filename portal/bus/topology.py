"""The exchanges and queues the bridge needs, described as data and declared idempotently from code."""
from dataclasses import dataclass

from flask import current_app

DEFAULT_PREFIX = "billing"


@dataclass(frozen=True)
class Topology:
    """Every name derives from one prefix, so tests can run against a private copy (`BUS_PREFIX`)."""

    prefix: str = DEFAULT_PREFIX

    @property
    def events_exchange(self) -> str:
        return f"{self.prefix}.events"

    @property
    def commands_exchange(self) -> str:
        return f"{self.prefix}.commands"

    @property
    def commands_queue(self) -> str:
        return f"{self.prefix}.commands"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.prefix}.commands.dlx"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.prefix}.commands.dlq"

    def describe(self) -> dict:
        """The topology as data: what `declare` creates and `flask bus topology` prints."""
        return {
            "exchanges": [
                {"name": self.events_exchange, "type": "topic", "durable": True,
                 "purpose": "events out: routing key = event type, persistent, publisher confirms"},
                {"name": self.commands_exchange, "type": "topic", "durable": True,
                 "purpose": "commands in: publish here with type = command name"},
                {"name": self.dead_letter_exchange, "type": "fanout", "durable": True,
                 "purpose": "rejected commands, routed to the dead-letter queue"},
            ],
            "queues": [
                {"name": self.commands_queue, "durable": True,
                 "arguments": {"x-dead-letter-exchange": self.dead_letter_exchange}},
                {"name": self.dead_letter_queue, "durable": True, "arguments": {}},
            ],
            "bindings": [
                {"exchange": self.commands_exchange, "queue": self.commands_queue, "routing_key": "#"},
                {"exchange": self.dead_letter_exchange, "queue": self.dead_letter_queue, "routing_key": ""},
            ],
        }


def current_topology() -> Topology:
    return Topology(current_app.config.get("BUS_PREFIX") or DEFAULT_PREFIX)


def declare(channel, topology: Topology | None = None) -> dict:
    """Declare everything; safe to repeat (same names, same arguments are a no-op for the broker).
    A queue that exists with other arguments is a channel error (406): that is a deployment mistake and
    is left to raise rather than be papered over."""
    topology = topology or current_topology()
    spec = topology.describe()
    for exchange in spec["exchanges"]:
        channel.exchange_declare(exchange["name"], exchange_type=exchange["type"], durable=exchange["durable"])
    for queue in spec["queues"]:
        channel.queue_declare(queue["name"], durable=queue["durable"], arguments=queue["arguments"] or None)
    for binding in spec["bindings"]:
        channel.queue_bind(binding["queue"], binding["exchange"], routing_key=binding["routing_key"])
    return spec
