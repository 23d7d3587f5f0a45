"""The command consumer: `billing.commands` → bus inbox (deduplicated on message_id) → handler → ack.

Per message, in this order:
1. The command name is the AMQP `type` property; without one, the routing key (publishers may route
   by command name instead). `type` wins when both are set.
2. Missing message_id, a body that is not a JSON object, an unknown command or a schema failure is
   rejected: never retried, it goes to the dead-letter queue with the reason.
3. The bus inbox row is inserted with `ON CONFLICT (message_id)`: a message_id already processed is
   acked and changes nothing (a redelivery after a crash, or a publisher's retry).
4. The inbox row is written already marked processed, then the handler runs in the same transaction;
   the message is acked only after that commit. Billing services that commit by themselves (`atomic()`)
   therefore commit the inbox row together with their effect, so a crash after their commit still
   finds the message_id processed on redelivery and nothing is applied twice. A domain error (unknown
   customer or plan, illegal transition) rolls the effect and the row back, records the row as failed
   with the reason and dead-letters the message. A failed row is tried again if the same message_id
   is sent again (the publisher fixed the cause, e.g. sent customer.upsert first).
5. Database unavailable: the message is requeued and the consumer backs off. Any other unexpected
   error is requeued once and dead-lettered if it happens again on the redelivery, so a poison
   message never loops or blocks the queue and never stops the consumer.

Dead-lettering with a reason: basic_nack cannot add headers, so the consumer republishes the message
(body and properties kept) to the dead-letter exchange `billing.commands.dlx` with the headers
`x-rejection-reason`, `x-rejection-stage`, `x-rejected-at`, `x-original-exchange` and
`x-original-routing-key`, waits for the broker's confirm, then acks the original. Should that publish
fail, the original is `basic_nack(requeue=False)`-ed and the queue's own x-dead-letter-exchange takes it
to the same DLQ (with RabbitMQ's x-death header, without our reason). The reason is also kept on the
bus inbox row (status failed, error) whenever the message had a message_id."""
import json
import logging
import threading
import time
from dataclasses import dataclass

import pika
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from portal.bus.amqp import CONNECTION_ERRORS, Backoff, ConfirmingClient
from portal.bus.commands import CommandContext, CommandRejected, domain_errors, handle, validate
from portal.bus.topology import Topology, declare
from portal.extensions import db
from portal.models import BusMessage
from portal.models.types import utcnow

log = logging.getLogger(__name__)

DEFAULT_PREFETCH = 10


@dataclass(frozen=True)
class Outcome:
    """What became of one delivery: processed, duplicate, rejected (to the DLQ) or retry (requeued)."""

    status: str
    message_id: str | None = None
    command: str | None = None
    reason: str | None = None
    stage: str | None = None


def _claim_inbox_row(message_id: str, command: str, payload) -> int | None:
    """Insert the inbox row as processed (it commits with the effect or not at all), or take over a row
    left failed; None when the message_id was processed already. A concurrent delivery of the same id
    waits here on the first one's uncommitted row and then finds it processed."""
    now = utcnow()
    stmt = pg_insert(BusMessage).values(
        message_id=message_id, command=command, payload=payload, status="processed", received_at=now,
        processed_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[BusMessage.message_id],
        set_={"command": command, "payload": payload, "status": "processed", "error": None, "processed_at": now},
        where=BusMessage.status != "processed",
    ).returning(BusMessage.id)
    return db.session.execute(stmt).scalar_one_or_none()


def _record_failure(message_id: str, command: str | None, payload, reason: str) -> None:
    """Keep the rejection readable in the inbox too; best effort, the DLQ headers carry it anyway."""
    try:
        stmt = pg_insert(BusMessage).values(
            message_id=message_id, command=(command or "")[:64], payload=payload, status="failed",
            error=reason, received_at=utcnow(),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[BusMessage.message_id],
            set_={"status": "failed", "error": reason},
            where=BusMessage.status != "processed",
        )
        db.session.execute(stmt)
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.warning("could not record the rejection of %s in the bus inbox", message_id, exc_info=True)


def process_command(body: bytes, properties: pika.BasicProperties, routing_key: str,
                    redelivered: bool = False) -> Outcome:
    """Everything but the acking: decode, validate, deduplicate, handle, commit."""
    message_id = (properties.message_id or "").strip() or None
    command = properties.type or routing_key or None

    def rejected(reason, stage, payload=None):
        if message_id:
            _record_failure(message_id, command, payload, reason)
        return Outcome("rejected", message_id, command, reason[:1000], stage)

    if message_id is None:
        return rejected("missing message_id", "envelope")
    if len(message_id) > 128:
        return Outcome("rejected", None, command, "message_id longer than 128 characters", "envelope")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        return rejected(f"malformed JSON: {exc}", "decode")
    try:
        payload = validate(command or "", payload)
    except CommandRejected as exc:
        return rejected(str(exc), "schema", payload)

    ctx = CommandContext(message_id=message_id, command=command)
    try:
        row_id = _claim_inbox_row(message_id, command, payload)
        if row_id is None:
            db.session.rollback()
            return Outcome("duplicate", message_id, command)
        handle(command, payload, ctx)
        db.session.commit()
        return Outcome("processed", message_id, command)
    except domain_errors() as exc:
        db.session.rollback()
        return rejected(f"rejected by handler: {type(exc).__name__}: {exc}", "handler", payload)
    except IntegrityError as exc:
        # A concurrent command created the same customer, say: the redelivery will see it.
        db.session.rollback()
        if redelivered:
            return rejected(f"conflict: {exc.orig}", "handler", payload)
        return Outcome("retry", message_id, command, f"conflict: {type(exc.orig).__name__}", "handler")
    except (OperationalError, InterfaceError):
        db.session.rollback()
        raise  # the database is away: the caller requeues and backs off
    except DBAPIError as exc:
        db.session.rollback()
        if redelivered:
            return rejected(f"database error: {exc.orig}", "handler", payload)
        return Outcome("retry", message_id, command, f"database error: {type(exc.orig).__name__}", "handler")
    except Exception as exc:
        db.session.rollback()
        log.exception("command %s %s failed", command, message_id)
        if redelivered:
            return rejected(f"handler error: {type(exc).__name__}: {exc}", "handler", payload)
        return Outcome("retry", message_id, command, f"handler error: {type(exc).__name__}", "handler")


class CommandConsumer(ConfirmingClient):
    """One consumer: one connection, one channel with bounded prefetch and publisher confirms (for
    the dead-letter republish)."""

    client_name = "billing-portal commands"

    def __init__(self, url: str | None = None, topology: Topology | None = None,
                 prefetch: int = DEFAULT_PREFETCH):
        super().__init__(url, topology)
        self.prefetch = prefetch

    def prepare(self, channel) -> None:
        declare(channel, self.topology)
        channel.basic_qos(prefetch_count=self.prefetch)

    def close(self) -> None:
        if self.channel is not None and self.channel.is_open:
            try:
                self.channel.cancel()
            except Exception:
                log.debug("cancelling the consumer on a broken channel", exc_info=True)
        super().close()

    def dead_letter(self, method, properties: pika.BasicProperties, body: bytes, outcome: Outcome) -> None:
        headers = dict(properties.headers or {})
        headers.update({
            "x-rejection-reason": outcome.reason,
            "x-rejection-stage": outcome.stage,
            "x-rejected-at": utcnow().isoformat(),
            "x-original-exchange": method.exchange,
            "x-original-routing-key": method.routing_key,
        })
        copy = pika.BasicProperties(
            content_type=properties.content_type, content_encoding=properties.content_encoding,
            headers=headers, delivery_mode=pika.DeliveryMode.Persistent, correlation_id=properties.correlation_id,
            reply_to=properties.reply_to, message_id=properties.message_id, timestamp=properties.timestamp,
            type=properties.type, user_id=properties.user_id, app_id=properties.app_id,
        )
        try:
            self.channel.basic_publish(self.topology.dead_letter_exchange, method.routing_key, body,
                                       properties=copy, mandatory=True)
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError):
            log.error("could not republish %s to the DLQ; dead-lettering without a reason header",
                      properties.message_id)
            self.channel.basic_nack(method.delivery_tag, requeue=False)
            return
        self.channel.basic_ack(method.delivery_tag)

    def on_message(self, method, properties, body) -> Outcome:
        try:
            outcome = process_command(body, properties, method.routing_key, method.redelivered)
        except DBAPIError:
            log.warning("database unavailable; requeueing %s", properties.message_id)
            self.channel.basic_nack(method.delivery_tag, requeue=True)
            raise
        if outcome.status in ("processed", "duplicate"):
            self.channel.basic_ack(method.delivery_tag)
        elif outcome.status == "retry":
            log.warning("requeueing %s: %s", outcome.message_id, outcome.reason)
            time.sleep(0.5)  # a short pause so a hot retry does not spin
            self.channel.basic_nack(method.delivery_tag, requeue=True)
        else:
            log.warning("dead-lettering %s (%s): %s", outcome.message_id, outcome.command, outcome.reason)
            self.dead_letter(method, properties, body, outcome)
        return outcome

    def consume(self, stop: threading.Event, *, idle_timeout: float | None = None,
                max_messages: int | None = None) -> list[Outcome]:
        """Consume until stop is set, or (for tests and one-shot runs) until the queue has been quiet
        for idle_timeout seconds or max_messages were handled. Returns the outcomes."""
        self.open()
        outcomes = []
        quiet_since = time.monotonic()
        for method, properties, body in self.channel.consume(self.topology.commands_queue, inactivity_timeout=0.5):
            if method is None:
                if stop.is_set() or (idle_timeout is not None and time.monotonic() - quiet_since >= idle_timeout):
                    break
                continue
            outcomes.append(self.on_message(method, properties, body))
            quiet_since = time.monotonic()
            if stop.is_set() or (max_messages is not None and len(outcomes) >= max_messages):
                break
        self.channel.cancel()  # unacked prefetched messages go back to the queue
        return outcomes


def consume_available(idle_timeout: float = 1.0, *, url: str | None = None, topology: Topology | None = None,
                      max_messages: int | None = None, prefetch: int = DEFAULT_PREFETCH) -> list[Outcome]:
    """Handle what is waiting in the commands queue and return; for tests and one-shot runs."""
    consumer = CommandConsumer(url, topology, prefetch)
    try:
        return consumer.consume(threading.Event(), idle_timeout=idle_timeout, max_messages=max_messages)
    finally:
        consumer.close()


def run_consumer(stop: threading.Event | None = None, *, url: str | None = None, topology: Topology | None = None,
                 prefetch: int = DEFAULT_PREFETCH, max_backoff: float = 30.0) -> None:
    """The consumer loop: reconnect with backoff on connection errors (not on channel errors, which
    mean a deployment mistake and propagate); back off while the database is away. Runs until stop."""
    stop = stop or threading.Event()
    consumer = CommandConsumer(url, topology, prefetch)
    backoff = Backoff(maximum=max_backoff)
    log.info("command consumer started: queue %s", consumer.topology.commands_queue)
    try:
        while not stop.is_set():
            try:
                consumer.open()
                backoff.reset()
                consumer.consume(stop)
                continue
            except CONNECTION_ERRORS as exc:
                log.warning("consumer: RabbitMQ unavailable (%s); reconnecting", exc or type(exc).__name__)
            except DBAPIError as exc:
                log.warning("consumer: database error (%s: %s)", type(exc).__name__, str(exc.orig).strip()[:300])
                db.session.rollback()
            consumer.close()
            stop.wait(backoff.next_delay())
    finally:
        db.session.rollback()
        consumer.close()
        log.info("command consumer stopped")
