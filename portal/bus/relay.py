"""The outbox relay: committed outbox rows published to `billing.events`, at least once, in order.

Guarantees, and how they are kept:
- A row is marked published (published_at) only after the broker confirmed it (publisher confirms),
  in the same database transaction that locked it. A relay that dies between confirm and commit
  leaves the row unpublished; it is published again later with the same message_id (= the row id),
  which is what consumers deduplicate on. Nothing is lost; a duplicate is possible, never a gap.
- Several relays may run at once. Rows are claimed with `FOR UPDATE SKIP LOCKED`, so in the normal
  case no row is published twice.
- Events of one subscription go out in the order they were written. The ordering key is the
  subscription (`payload.subscription_id`, which payment and refund events carry too), else the
  aggregate. A relay publishes rows of a key only while holding a transaction-scoped advisory lock on
  that key, and only a contiguous run starting at the key's oldest unpublished row; a key whose oldest
  row another relay holds is skipped this round. So two relays never interleave one subscription's
  events. Rows of one subscription are written under that subscription's row lock, so their ids
  follow their commit order. (Not covered: events of one subscription written by transactions that do
  not lock the subscription row; their ids may commit out of order, as with any sequence.)
- Events are published with mandatory=False: an event nobody has bound a queue for yet is normal (the
  exchange is a broadcast), and the broker confirms it at once. With mandatory=True such a row would
  be returned, never confirmed, and would block its subscription's later events forever.

The relay needs PostgreSQL (SKIP LOCKED, advisory locks); the embedded SQLite default keeps the outbox
unrelayed, as designed."""
import json
import logging
import threading

import pika
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from portal.bus.amqp import CONNECTION_ERRORS, Backoff, ConfirmingClient
from portal.bus.topology import Topology
from portal.extensions import db
from portal.models import OutboxMessage
from portal.models.types import utcnow

log = logging.getLogger(__name__)

# First key of pg's two-int advisory lock space, so ours never meet another feature's locks.
ADVISORY_CLASS = 0x0B17

# Rows of one subscription share a key, whichever aggregate wrote them.
_ORDERING_KEY = (
    "coalesce('subscription:' || (payload ->> 'subscription_id'), aggregate_type || ':' || aggregate_id::text)"
)

_CLAIM = text(f"""
    SELECT id, {_ORDERING_KEY} AS ordering_key
    FROM outbox
    WHERE published_at IS NULL
    ORDER BY id
    LIMIT :batch_size
    FOR UPDATE SKIP LOCKED
""")

_LOCK_KEYS = text("""
    SELECT k FROM unnest(CAST(:keys AS text[])) AS k
    WHERE pg_try_advisory_xact_lock(:cls, hashtext(k))
""")

_UNPUBLISHED_OF_KEYS = text(f"""
    SELECT id, {_ORDERING_KEY} AS ordering_key
    FROM outbox
    WHERE published_at IS NULL AND id <= :max_id AND {_ORDERING_KEY} = ANY(CAST(:keys AS text[]))
    ORDER BY id
""")


class RelayError(Exception):
    """The broker refused (nacked) a publish; the row stays unpublished and is retried later."""


def message_properties(row: OutboxMessage) -> pika.BasicProperties:
    return pika.BasicProperties(
        content_type="application/json",
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=str(row.id),
        type=row.routing_key,
        timestamp=int(row.created_at.timestamp()),
        app_id="billing-portal",
    )


def claim_batch(batch_size: int) -> list[OutboxMessage]:
    """Lock up to batch_size unpublished rows this relay may publish now, in the order to publish them.
    Runs inside the caller's transaction; the locks last until it ends."""
    claimed = db.session.execute(_CLAIM, {"batch_size": batch_size}).all()
    if not claimed:
        return []
    keys = list(dict.fromkeys(key for _, key in claimed))
    locked_keys = set(
        db.session.execute(_LOCK_KEYS, {"keys": keys, "cls": ADVISORY_CLASS})
        .scalars()
    )
    mine = {row_id for row_id, key in claimed if key in locked_keys}
    if not mine:
        return []
    # For each key we hold, publish only the run that starts at its oldest unpublished row and stops at
    # the first row someone else has locked: publishing past that would overtake an earlier event.
    chosen, blocked = [], set()
    unpublished = db.session.execute(
        _UNPUBLISHED_OF_KEYS, {"max_id": max(mine), "keys": sorted(locked_keys)}
    ).all()
    for row_id, key in unpublished:
        if key in blocked:
            continue
        if row_id in mine:
            chosen.append(row_id)
        else:
            blocked.add(key)
    if not chosen:
        return []
    return list(
        db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(chosen)).order_by(OutboxMessage.id))
    )


def outbox_backlog() -> dict:
    """How far behind the relay is, for /readyz and the admin: unpublished rows and the oldest one's age."""
    count, oldest = db.session.execute(
        select(func.count(OutboxMessage.id), func.min(OutboxMessage.created_at)).where(
            OutboxMessage.published_at.is_(None)
        )
    ).one()
    if oldest is not None and oldest.tzinfo is None:  # SQLite returns naive UTC from an aggregate
        from datetime import timezone

        oldest = oldest.replace(tzinfo=timezone.utc)
    age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    return {"unpublished": int(count), "oldest_age_seconds": round(max(age, 0.0), 3)}


class OutboxRelay(ConfirmingClient):
    """One relay: one connection, one confirming channel, batches in database transactions."""

    client_name = "billing-portal relay"

    def __init__(self, url: str | None = None, topology: Topology | None = None, batch_size: int = 100):
        super().__init__(url, topology)
        self.batch_size = batch_size

    def prepare(self, channel) -> None:
        channel.exchange_declare(self.topology.events_exchange, exchange_type="topic", durable=True)

    def relay_batch(self) -> int:
        """Publish one batch; returns how many rows were confirmed and marked published. Raises the
        broker's error after committing the rows confirmed before it."""
        self.open()  # before any lock is taken: a broker outage must not hold rows locked
        published = 0
        try:
            for row in claim_batch(self.batch_size):
                row.publish_attempts = (row.publish_attempts or 0) + 1
                try:
                    self.channel.basic_publish(
                        self.topology.events_exchange,
                        row.routing_key,
                        json.dumps(row.envelope, separators=(",", ":")).encode(),
                        properties=message_properties(row),
                        mandatory=False,
                    )
                except pika.exceptions.NackError as exc:
                    row.last_error = f"broker nacked the publish: {exc!r}"[:2000]
                    raise RelayError(row.last_error) from exc
                except Exception as exc:
                    row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                    raise
                row.published_at = utcnow()
                row.last_error = None
                published += 1
        except BaseException:
            # Keep what the broker confirmed; the rest stays unpublished for the next attempt.
            try:
                db.session.commit()
            except Exception:
                db.session.rollback()
                log.warning("relay: could not record a partly published batch; it will be republished")
            raise
        db.session.commit()
        return published

    def idle(self, seconds: float, stop: threading.Event) -> None:
        """Wait between empty polls while servicing heartbeats."""
        if self.connection is not None and self.connection.is_open:
            self.connection.sleep(seconds)
        else:
            stop.wait(seconds)


def relay_once(batch_size: int = 100, *, url: str | None = None, topology: Topology | None = None) -> int:
    """Publish one batch over a fresh connection and return how many rows went out. Raises
    pika.exceptions.AMQPConnectionError when the broker is unreachable (rows stay unpublished)."""
    relay = OutboxRelay(url, topology, batch_size)
    try:
        return relay.relay_batch()
    finally:
        relay.close()


def run_relay(stop: threading.Event | None = None, *, batch_size: int = 100, poll_seconds: float = 1.0,
              url: str | None = None, topology: Topology | None = None, max_backoff: float = 30.0) -> None:
    """The relay loop: publish while there is a backlog, poll when there is none, back off and reconnect
    while RabbitMQ or the database is away. Runs until `stop` is set."""
    stop = stop or threading.Event()
    relay = OutboxRelay(url, topology, batch_size)
    backoff = Backoff(maximum=max_backoff)
    log.info("outbox relay started: exchange %s", relay.topology.events_exchange)
    try:
        while not stop.is_set():
            try:
                published = relay.relay_batch()
                backoff.reset()
                if published < batch_size:
                    relay.idle(poll_seconds, stop)
                continue
            except CONNECTION_ERRORS as exc:
                log.warning("relay: RabbitMQ unavailable (%s); reconnecting", exc or type(exc).__name__)
                relay.close()
            except RelayError as exc:
                log.warning("relay: %s", exc)
            except DBAPIError as exc:
                log.warning("relay: database error (%s: %s)", type(exc).__name__, str(exc.orig).strip()[:300])
                db.session.rollback()
            except pika.exceptions.AMQPChannelError:
                relay.close()
                raise
            except Exception:
                log.exception("relay: unexpected error; retrying after a pause")
                db.session.rollback()
                relay.close()
            stop.wait(backoff.next_delay())
    finally:
        db.session.rollback()
        relay.close()
        log.info("outbox relay stopped")
