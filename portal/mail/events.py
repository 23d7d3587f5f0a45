"""From outbox events to mails, with or without a RabbitMQ bus: a transaction that writes outbox rows
nudges one dispatcher job after its commit; the job claims the events whose mails are not built yet
(`outbox.mailed_at` empty), builds them (portal/mail/billing.py) and marks the events in the same
transaction. The cron tick `mail-events` runs the same job for a nudge lost with Redis or a worker.

Exactly once: an event is marked in the transaction that stores its mails, and each mail has a unique
purpose and subject key (the payment, invoice attempt, refund or event, and the customer), so a second
job, a second run of one job, or an event published to the bus twice cannot add a mail."""
import logging

from flask import current_app
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from portal import clock
from portal.extensions import db
from portal.machines import atomic
from portal.models import OutboxMessage
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


def build_event_mails(batch: int = BATCH) -> int:
    """Build the mails of every event not mailed yet, a batch per transaction; returns how many events."""
    from portal.mail.billing import mails_for

    nudged(BUILD_JOB)
    done = 0
    while True:
        with atomic():
            events = db.session.scalars(select(OutboxMessage).where(OutboxMessage.mailed_at.is_(None))
                                        .order_by(OutboxMessage.id).limit(batch)
                                        .with_for_update(skip_locked=True)).all()
            for row in events:
                try:
                    with db.session.begin_nested():
                        mails_for(row)
                except Exception:  # a defect in one mail must not hold back every later event's mails
                    log.exception("mail: the mails of event %s (%s) could not be built", row.id, row.routing_key)
                row.mailed_at = clock.now()
        done += len(events)
        if len(events) < batch:
            return done
