"""Connections to RabbitMQ and the backoff both bridge loops use when the broker is away."""
import logging
import random

import pika
from flask import current_app

log = logging.getLogger(__name__)

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"

# Reconnect on these; a channel error (AMQPChannelError: wrong queue arguments, access refused) is a
# deployment mistake that reconnecting would only repeat, so it propagates.
CONNECTION_ERRORS = (pika.exceptions.AMQPConnectionError, ConnectionError, OSError)


def require_postgresql() -> None:
    """The bridge relies on SKIP LOCKED, advisory locks and ON CONFLICT; the embedded SQLite default
    keeps the outbox unrelayed by design, so say so instead of failing on every poll."""
    from portal.extensions import db

    if db.engine.dialect.name != "postgresql":
        raise RuntimeError("the RabbitMQ bridge needs PostgreSQL (set DATABASE_URL); "
                           "the embedded default keeps the outbox unrelayed")


def amqp_url() -> str:
    return current_app.config.get("AMQP_URL") or DEFAULT_URL


def connect(url: str | None = None, *, client_name: str = "billing-portal") -> pika.BlockingConnection:
    params = pika.URLParameters(url or amqp_url())
    # One attempt per call: the loops own the retry policy, with backoff and a stop flag.
    params.connection_attempts = 1
    params.socket_timeout = 5
    params.blocked_connection_timeout = 60
    params.client_properties = {"connection_name": client_name}
    return pika.BlockingConnection(params)


def close_quietly(connection) -> None:
    if connection is None:
        return
    try:
        if connection.is_open:
            connection.close()
    except Exception:  # closing a connection that already broke has nothing left to report
        log.debug("closing a broken AMQP connection", exc_info=True)


class Backoff:
    """Exponential delays with full jitter, capped; reset after a success."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0):
        self.initial, self.maximum = initial, maximum
        self.attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.initial * (2 ** self.attempt))
        self.attempt += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


class ConfirmingClient:
    """One connection and one channel with publisher confirms, opened on demand and opened afresh after
    the connection broke. Subclasses declare what they need on the channel in `prepare`."""

    client_name = "billing-portal"

    def __init__(self, url: str | None, topology):
        from portal.bus.topology import current_topology

        require_postgresql()
        self.url = url or amqp_url()
        self.topology = topology or current_topology()
        self.connection = None
        self.channel = None

    def prepare(self, channel) -> None:
        """Declarations and settings for a fresh channel, before confirms are switched on."""

    def open(self) -> None:
        if self.channel is not None and self.channel.is_open:
            return
        self.close()
        self.connection = connect(self.url, client_name=self.client_name)
        channel = self.connection.channel()
        self.prepare(channel)
        channel.confirm_delivery()  # once per channel: basic_publish now returns only once confirmed
        self.channel = channel

    def close(self) -> None:
        close_quietly(self.connection)
        self.connection = self.channel = None
