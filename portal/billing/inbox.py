"""Paid notifications in bulk. A burst of Pay notifications (a sale, the provider catching up after an
outage, the renewal run's callbacks) is applied a batch per transaction instead of a job and a
transaction each: the rows a batch needs are locked and read in a few statements, every change still
goes through the lifecycle machines (which write the transitions and outbox rows), and the batch's
writes go to the database in one flush and one COMMIT.

Idempotency stays per notification: the inbox row is claimed FOR UPDATE SKIP LOCKED and marked
processed in the batch's transaction, and the payment's unique (provider, transaction id) guards the
money. Anything the batch cannot take (an unreadable body, a batch that fails as a whole) is processed
one notification at a time, as every other kind is.

A drain whose worker dies mid-batch leaves its rows `received` (its transaction rolls back) and nothing
queued to take them: `recover_stranded`, on a short tick, queues a drain for them within seconds
rather than leaving paid customers pending until the sweeper's minutes."""
import logging
from datetime import timedelta

from sqlalchemy import and_, false, or_, select

from portal.billing import notifications, payments
from portal.extensions import db
from portal.machines import atomic, hold
from portal.models import WebhookEvent
from portal.providers import InvalidNotification, ProviderError, enabled_providers, get_provider
from portal.queue import RETRY_INTERVALS, enqueue, nudge, nudged

log = logging.getLogger(__name__)

DRAIN_JOB = "workers.notifications.drain_inbox"
BATCH_SIZE = 100
# A Pay stored this long ago and never tried has lost its drain (a drain starts within a second or two of
# its nudge; a backlog only delays it, and a drain queued already makes the nudge a no-op).
STRANDED_AFTER = timedelta(seconds=10)


def request_drain() -> None:
    """After a Pay is stored: one drain job is enough for however many arrive before it starts. It waits on
    the billing queue, which workers empty before they send any mail: the customer is watching the checkout
    page for its result, and a burst of receipts cannot stand in front of it."""
    nudge(DRAIN_JOB)


def drain(limit: int = BATCH_SIZE) -> int:
    """Job body: apply one batch of stored, never-tried Pay notifications. A full batch means more are
    waiting: the next drain job is queued first, so the other workers share the backlog. Returns how
    many notifications this job took."""
    nudged(DRAIN_JOB)
    claimed: list[int] = []
    one_by_one: list[int] = []
    try:
        with atomic():
            events = db.session.scalars(claim(limit)).all()
            claimed = [event.id for event in events]
            if len(events) == limit:
                enqueue(DRAIN_JOB)
            batch, one_by_one = _readable(events)  # in id order: a Pay before the Confirm of its transaction
            payments.hold_for([notification for _, notification in batch])
            for event, notification in batch:
                notifications.apply_stored(event, notification)
    except Exception:
        log.exception("a batch of %d notifications failed as a whole; applying them one by one", len(claimed))
        one_by_one = claimed
    for event_id in one_by_one:
        _process_alone(event_id)
    return len(claimed)


def claim(limit: int):
    """The oldest never-tried notifications a drain takes, locked, skipping those another drain holds: read in id
    order from the index of untried rows, so a claim reads what it takes whatever the backlog."""
    return (select(WebhookEvent).where(WebhookEvent.status == "received", WebhookEvent.attempts == 0, _batched())
            .order_by(WebhookEvent.id).limit(limit).with_for_update(skip_locked=True))


def recover_stranded(now) -> bool:
    """Tick body: queue a drain if a Pay or Confirm has waited untried longer than STRANDED_AFTER (its
    drain was lost with a killed worker, or its nudge with Redis). Returns whether one was asked for."""
    stranded = db.session.scalar(select(WebhookEvent.id).where(
        WebhookEvent.status == "received", WebhookEvent.attempts == 0, _batched(),
        WebhookEvent.received_at <= now - STRANDED_AFTER).limit(1))
    if stranded is None:
        return False
    log.info("inbox: Pay notifications waiting untried since before %s; asking for a drain", now - STRANDED_AFTER)
    request_drain()
    return True


def _batched():
    """The inbox rows drains take: each enabled provider's batched kinds (signed notifications, applied as
    they came; a provider whose notifications must be confirmed through its API has none)."""
    return or_(false(), *(and_(WebhookEvent.provider == provider.name, WebhookEvent.kind.in_(provider.batched_kinds))
                          for provider in enabled_providers().values() if provider.batched_kinds))


def _readable(events) -> tuple[list, list[int]]:
    """Split claimed notifications into those the batch applies and those to process alone."""
    parsed, alone = [], []
    for event in events:
        hold((WebhookEvent, event.id), event)
        try:
            provider = get_provider(event.provider)
            parsed.append((event, provider.parse_notification(event.kind, event.body, event.content_type)))
        except (InvalidNotification, ProviderError):
            alone.append(event.id)
    return parsed, alone


def _process_alone(event_id: int) -> None:
    try:
        notifications.process(event_id)
    except Exception as exc:  # kept on the row; its own job retries it with backoff, then the sweeper
        log.info("notification %s failed alone (%s); its own job tries again", event_id, exc)
        enqueue(notifications.PROCESS_JOB, event_id, job_id=f"notification-{event_id}",
                delay=timedelta(seconds=RETRY_INTERVALS[0]))
