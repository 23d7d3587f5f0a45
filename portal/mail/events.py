"""From outbox events to mails, with or without a RabbitMQ bus: a transaction that writes outbox rows
nudges one dispatcher job after its commit; the job claims the events whose mails are not built yet
(`outbox.mailed_at` empty), builds them (portal/mail/billing.py) and marks the events in the same
transaction. The cron tick `mail-events` runs the same job for a nudge lost with Redis or a worker.

Exactly once: an event is marked in the transaction that stores its mails, and each mail has a unique
purpose and subject key (the payment, invoice attempt, refund or event, and the customer), so a second
job, a second run of one job, or an event published to the bus twice cannot add a mail.

A build that fails (a defect, a row the event names that is gone) is not lost: the event's failure is stored
as a build-failure record in outgoing_mails (status `unbuilt`, the error, the customer when known) in the
transaction that marks the event, and from then on that record owns the event's mails. Its build is tried
again with the delivery's backoff (`rebuild_due`, run by the same job and tick), `rebuilt` once a build
succeeds, `failed` after the bound; staff see it on the customer's page and can ask for one more build."""
import logging

from flask import current_app
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from portal import clock
from portal.extensions import db
from portal.machines import atomic
from portal.mail import mail_batch
from portal.models import OutboxMessage, OutgoingMail
from portal.queue import nudge, nudged

log = logging.getLogger(__name__)

BUILD_JOB = "workers.mail.build_event_mails"
BATCH = 200
_WRITTEN = "mail_events_written"


def events_written(session: Session) -> None:
    """Called where outbox rows are written: the dispatcher is nudged once this transaction commits."""
    session.info[_WRITTEN] = current_app._get_current_object()


@event.listens_for(Session, "after_commit")
def _nudge_dispatcher(session):
    app = session.info.pop(_WRITTEN, None)
    if app is None:
        return
    with app.app_context():
        try:
            nudge(BUILD_JOB)
        except Exception:  # the change is committed; the mail-events tick builds its mails a little later
            log.warning("mail: could not nudge the mail dispatcher; the tick will", exc_info=True)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session, previous_transaction):
    if not previous_transaction.nested:
        session.info.pop(_WRITTEN, None)


def build_event_mails(batch: int = BATCH, *, batches: int | None = None) -> int:
    """Build the mails of events not mailed yet, a batch per transaction, `batches` of them at most (None: until
    none is left); returns how many events. A job takes one batch and, when it was full, queues the next one
    behind what waits on the queues meanwhile: a burst of receipts is built between the Pay notifications
    customers are waiting for, not in front of them."""
    nudged(BUILD_JOB)
    done = taken = 0
    while batches is None or taken < batches:
        with atomic():
            events = db.session.scalars(select(OutboxMessage).where(OutboxMessage.mailed_at.is_(None))
                                        .order_by(OutboxMessage.id).limit(batch)
                                        .with_for_update(skip_locked=True)).all()
            _build(events)
        done, taken = done + len(events), taken + 1
        if len(events) < batch:
            rebuild_due()
            return done
    nudge(BUILD_JOB)
    return done


def _build(events: list[OutboxMessage]) -> None:
    """The mails of claimed events, each event marked built or handed to its build-failure record. The batch is
    built in one savepoint, from its rows read in bulk; if any event's build fails, the batch is built again
    event by event, so the failure is recorded for that event alone and the others' mails are kept."""
    from portal.mail.billing import mails_for, rows_for

    if not events:
        return
    rows = rows_for(events)  # noqa: F841  (kept: the session's identity map holds its rows only while referenced)
    try:
        with db.session.begin_nested(), mail_batch():
            for row in events:
                mails_for(row)
    except Exception:
        log.info("mail: a batch of %d events failed as a whole; building them one by one", len(events))
        for row in events:
            try:
                with db.session.begin_nested():
                    mails_for(row)
            except Exception as exc:  # one event's defect must not hold back every later event's mails
                log.exception("mail: the mails of event %s (%s) could not be built", row.id, row.routing_key)
                record_build_failure(row, exc)
    now = clock.now()
    for row in events:
        row.mailed_at = now  # built, or handed to its build-failure record


def build_error(exc: Exception) -> str:
    """What staff read of a failed build: the exception's kind and message (the builders' errors name ids,
    never an address or card data)."""
    return f"could not build: {exc.__class__.__name__}: {exc}"[:2000]


def record_build_failure(event: OutboxMessage, exc: Exception) -> OutgoingMail:
    """Store the failed build of `event`'s mails for staff and for the next try (in the caller's transaction)."""
    from portal.mail.billing import build_failure_record
    from portal.mail.delivery import BACKOFF, MAX_ATTEMPTS

    fresh = build_failure_record(event)
    # An event found again (its mark lost) that fails again counts on its record instead of adding one.
    record = db.session.scalar(select(OutgoingMail).where(OutgoingMail.purpose == fresh.purpose,
                                                          OutgoingMail.subject_key == fresh.subject_key)
                               .with_for_update())
    if record is None:
        record = fresh
        with db.session.begin_nested():
            db.session.add(record)
    elif record.status == "rebuilt":
        return record  # built since: the unique keys of its mails keep this build from adding any
    record.attempts, record.last_attempt_at, record.last_error = record.attempts + 1, clock.now(), build_error(exc)
    if record.attempts >= MAX_ATTEMPTS:
        record.status = "failed"
    else:
        record.status, record.next_attempt_at = "unbuilt", clock.now() + BACKOFF[record.attempts - 1]
    return record


def rebuild_due(now=None) -> int:
    """Try once more to build the mails of every event whose build-failure record is due; returns how many
    records were tried. Each try is counted; after MAX_ATTEMPTS the record is given up (failed)."""
    from portal.mail.billing import mails_for
    from portal.mail.delivery import BACKOFF, MAX_ATTEMPTS

    tried = 0
    while True:
        with atomic():
            now = now or clock.now()
            records = db.session.scalars(select(OutgoingMail).where(
                OutgoingMail.status == "unbuilt", OutgoingMail.next_attempt_at <= now)
                .order_by(OutgoingMail.id).limit(BATCH).with_for_update(skip_locked=True)).all()
            for record in records:
                event = db.session.get(OutboxMessage, record.event_id)
                record.attempts, record.last_attempt_at = record.attempts + 1, now
                try:
                    with db.session.begin_nested():
                        if event is None:
                            raise LookupError(f"outbox event {record.event_id} is gone")
                        mails_for(event)
                except Exception as exc:
                    log.warning("mail: the mails of event %s could not be built (try %s)", record.event_id,
                                record.attempts, exc_info=True)
                    record.last_error = build_error(exc)
                    if record.attempts >= MAX_ATTEMPTS:
                        record.status = "failed"
                    else:
                        record.next_attempt_at = now + BACKOFF[record.attempts - 1]
                else:
                    record.status = "rebuilt"
        tried += len(records)
        if len(records) < BATCH:
            return tried
