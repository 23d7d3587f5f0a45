"""Provider notifications: authenticated by their adapter, stored once in the inbox, processed by a job
that applies their neutral event; every answer is given in the provider's own protocol by its adapter."""
import hashlib
import logging

from sqlalchemy import LargeBinary, bindparam, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, IntegrityError, StatementError

from portal import clock
from portal.billing import fiscal, payments, refunds
from portal.billing.checkout import check_payment
from portal.billing.errors import NotYetKnown
from portal.extensions import db
from portal.machines import atomic, fire, lock
from portal.models import Payment, WebhookEvent
from portal.models.types import seal
from portal.ops import metrics
from portal.providers import EventKind, InvalidNotification, Reception, WebAnswer, get_provider
from portal.queue import enqueue
from portal.statements import AutocommitStatement

log = logging.getLogger(__name__)

PROCESS_JOB = "workers.notifications.process_notification"
# Tries of a notification that keeps failing (its job's retries and the sweeper's rounds together)
# before it is marked failed for staff: out of order for more than about half an hour is no longer order.
MAX_ATTEMPTS = 12
# A real notification is a few KiB: larger posts are refused unread (413).
MAX_NOTIFICATION_BYTES = 64 * 1024
# What is kept of a refused post, for staff to recognise it.
REJECTED_BODY_PREFIX = 2 * 1024
# What a notification that comes to its provider's single address (no kind in the path) is stored as
# when it cannot be read far enough to know its own kind.
UNNAMED_KIND = "notification"
# Errors that the same notification will raise on every try.
NEVER_APPLIES = (InvalidNotification, ValueError, DataError)


# The inbox row of a notification received: one statement, its own transaction.
_STORE = AutocommitStatement(
    insert(WebhookEvent.__table__)
    .values(attempts=0,
            # The hot path compiles this once and skips SQLAlchemy's type processing: the body comes sealed.
            body=bindparam("body", type_=LargeBinary),
            **{name: bindparam(name) for name in ("provider", "kind", "transaction_id", "invoice_id", "status",
                                                  "error", "content_type", "remote_addr", "received_at")})
    .returning(WebhookEvent.id)
)


def receive(provider_name: str, kind: str | None, raw_body: bytes, headers, content_type: str | None,
            remote_addr: str | None) -> WebAnswer:
    """Everything the webhook endpoint does, answered in the provider's protocol by its adapter. A
    notification is acknowledged only once it is safely stored under its own key (or was stored before)."""
    provider = get_provider(provider_name)
    if not _known_kind(provider, kind):
        return provider.answer(Reception(404, f"unknown notification type {kind!r}"))
    kind = kind or UNNAMED_KIND
    if not provider.verify_notification(raw_body, headers, remote_addr):
        _reject(provider.name, kind, raw_body, content_type, remote_addr, provider.authentication_failure)
        return provider.answer(Reception(401, provider.authentication_failure))
    try:
        notification = provider.parse_notification(None if kind == UNNAMED_KIND else kind, raw_body, content_type)
    except InvalidNotification as exc:
        if exc.transaction_id is None or kind == "check":
            _reject(provider.name, kind, raw_body, content_type, remote_addr, "unreadable", str(exc))
            return provider.answer(Reception(400, f"unreadable notification: {exc}"))
        # Authentic and keyed, but not something we can apply: kept under its own key, failed with the
        # reason, for staff to see and replay after a fix. Refused, the provider would retry it for days.
        return _store(provider, kind, exc.transaction_id, None, raw_body, content_type, remote_addr,
                      failure=f"InvalidNotification: {exc}")
    if notification.event == EventKind.CHECK:
        return provider.answer(Reception(200, check=check_payment(notification)))
    if not notification.transaction_id and notification.event != EventKind.INFORMATIONAL:
        _reject(provider.name, kind, raw_body, content_type, remote_addr, "TransactionId missing")
        return provider.answer(Reception(400, "TransactionId is required"))
    return _store(provider, notification.kind, notification.transaction_id or notification.raw.get("Id"),
                  notification.invoice_id, raw_body, content_type, remote_addr)


def _known_kind(provider, kind: str | None) -> bool:
    """A provider with kinds in its paths takes only those; one with a single address takes no kind."""
    if provider.notification_kinds is None:
        return kind is None
    return kind in provider.notification_kinds


def _store(provider, kind, transaction_id, invoice_id, raw_body, content_type, remote_addr, failure=None) -> WebAnswer:
    """The inbox row under the notification's own key (validated whole by the parser, never cut), then
    the job that applies it. A repeat of a stored notification is already ours: acknowledged again."""
    from portal.billing import inbox

    try:
        (event_id,) = _STORE.first(
            provider=provider.name, kind=kind, transaction_id=transaction_id,
            # A lookup column only: what the customer's browser put into the widget can be anything.
            invoice_id=_bounded(invoice_id), status="failed" if failure else "received", error=failure,
            content_type=_bounded(content_type, 128), body=seal(raw_body), remote_addr=_bounded(remote_addr),
            received_at=clock.now())
    except IntegrityError as exc:
        if not _is_duplicate(exc):
            raise  # not a repeat: the notification is not stored, so it must not be acknowledged
        return provider.answer(Reception(200))
    if failure:
        log.warning("stored %s notification #%s as failed: %s", kind, event_id, failure)
    elif kind in provider.batched_kinds:
        inbox.request_drain()
    else:
        # A new row has no job yet, so no job id to look up first; the job itself skips processed rows.
        enqueue(PROCESS_JOB, event_id)
    return provider.answer(Reception(200))


def _is_duplicate(exc: IntegrityError) -> bool:
    """Whether the INSERT failed on the inbox's unique key (a repeat), not on some other constraint."""
    return getattr(exc.orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(exc.orig)


def _bounded(value, length=64):
    # Headers and the widget's fields, for display and lookups: cut to their columns, NULs dropped.
    return value.replace("\x00", "")[:length] if isinstance(value, str) else value


def refuse_oversized(provider_name: str, kind: str | None, length: int | None, content_type: str | None,
                     remote_addr: str | None) -> WebAnswer:
    """A notification larger than any real one (a real one is a few KiB): refused before its body is
    read, so only its declared length is recorded."""
    provider = get_provider(provider_name)
    if not _known_kind(provider, kind):
        return provider.answer(Reception(404, f"unknown notification type {kind!r}"))
    _reject(provider.name, kind or UNNAMED_KIND, b"", content_type, remote_addr, "too large",
            f"{length if length is not None else 'more than'} bytes; at most {MAX_NOTIFICATION_BYTES} are read",
            length=length)
    return provider.answer(Reception(413, f"a notification is at most {MAX_NOTIFICATION_BYTES} bytes"))


def _reject(provider, kind, raw_body, content_type, remote_addr, why, detail=None, *, length=None):
    """Record a refused post boundedly: its first REJECTED_BODY_PREFIX bytes, length and SHA-256, the
    address and reason. Refusals from one address for one reason within a minute share one counted row,
    so a flood of them cannot grow the database without bound."""
    now = clock.now()
    values = dict(provider=provider, kind=kind, status="rejected", rejection=why, error=_bounded(detail, 500),
                  content_type=_bounded(content_type, 128), body=raw_body[:REJECTED_BODY_PREFIX],
                  body_length=len(raw_body) if length is None else length,
                  body_sha256=hashlib.sha256(raw_body).hexdigest() if raw_body else None,
                  remote_addr=_bounded(remote_addr) or "unknown", received_at=now, attempts=0,
                  rejected_count=1, rejection_window=now.replace(second=0, microsecond=0))
    table = WebhookEvent.__table__
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**values)
    db.session.execute(statement.on_conflict_do_update(
        index_elements=["provider", "kind", "remote_addr", "rejection", "rejection_window"],
        index_where=text("status = 'rejected'"),
        set_={"rejected_count": table.c.rejected_count + 1, "received_at": now,
              **{name: statement.excluded[name] for name in ("error", "content_type", "body", "body_length",
                                                              "body_sha256")}}))
    db.session.commit()
    log.warning("rejected %s notification from %s: %s", kind, remote_addr, why)
    metrics.notification_rejected(provider, kind, why)


def process(event_id: int) -> None:
    """Job body: apply a stored notification once. A notification about something we have not recorded
    yet (out of order) stays 'received' with the reason, and is raised so the job is retried, up to
    MAX_ATTEMPTS times in all; one that can never apply (unreadable, values no column can hold) is
    marked failed at once. A failed one waits for staff (shown in the inbox, replayable after a fix)."""
    try:
        notification = _confirmed(event_id)  # before any lock: the adapter may ask its provider's API
        if notification is None:
            return
        with atomic():
            event = lock(WebhookEvent, event_id)
            if event.status != "received":
                return
            apply_stored(event, notification)
    except Exception as exc:
        with atomic():
            event = lock(WebhookEvent, event_id)
            event.attempts += 1
            event.error = describe_error(exc)
            gave_up = isinstance(exc, NEVER_APPLIES) or event.attempts >= MAX_ATTEMPTS
            if gave_up:
                event.status = "failed"
        if gave_up:
            log.warning("notification %s failed for good after %s attempts: %s", event_id, event.attempts,
                        event.error)
            return
        raise


def _confirmed(event_id: int):
    """The stored notification read by its provider's adapter and confirmed by it; None once processed."""
    event = db.session.get(WebhookEvent, event_id)
    if event is None or event.status != "received":
        db.session.rollback()
        return None
    provider = get_provider(event.provider)
    notification = provider.parse_notification(stored_kind(event), event.body, event.content_type)
    db.session.rollback()  # no transaction left open while the provider is asked
    return provider.confirmed(notification)


def stored_kind(event: WebhookEvent) -> str | None:
    """The kind to parse a stored notification with: its path's kind, None for a single address."""
    return None if get_provider(event.provider).notification_kinds is None else event.kind


def describe_error(exc: Exception) -> str:
    """The error as kept on the row and shown to staff: SQL parameters left out (a notification's
    values include the card token), bounded."""
    if isinstance(exc, StatementError) and exc.orig is not None:
        return f"{type(exc).__name__}: {type(exc.orig).__name__}: {exc.orig}"[:2000]
    return f"{type(exc).__name__}: {exc}"[:2000]


def apply_stored(event: WebhookEvent, notification) -> None:
    """Apply a stored notification (its row locked) and mark it processed, in the caller's transaction."""
    cause = f"notification {event.kind} #{event.id} (transaction {event.transaction_id})"
    apply(notification, actor="provider", cause=cause)
    event.status, event.processed_at, event.error = "processed", clock.now(), None
    event.attempts += 1


def apply(notification, *, actor: str, cause: str) -> None:
    """What a notification's neutral event does; informational ones (CloudPayments' Recurrent: we run
    our own renewals with token charges) are recorded in the inbox only."""
    event = notification.event
    if event in (EventKind.PAYMENT_SUCCEEDED, EventKind.PAYMENT_AUTHORIZED):
        payments.record_success(notification, actor=actor, cause=cause)
    elif event == EventKind.PAYMENT_FAILED:
        payments.record_decline(notification, actor=actor, cause=cause)
    elif event == EventKind.REFUND_SUCCEEDED:
        refunds.record_provider_refund(notification, actor=actor, cause=cause)
    elif event == EventKind.PAYMENT_VOIDED:
        _record_void(notification, actor=actor, cause=cause)
    elif event == EventKind.RECEIPT_REPORTED:
        fiscal.record_answer(notification.fiscal, actor=actor, cause=cause)


def _record_void(notification, *, actor, cause):
    payment = db.session.scalar(select(Payment).where(
        Payment.provider == notification.provider,
        Payment.provider_transaction_id == str(notification.transaction_id)))
    if payment is None:
        raise NotYetKnown(f"cancel of transaction {notification.transaction_id}, which is not recorded yet")
    payment = lock(Payment, payment.id)
    if payment.status == "authorized":
        fire(payment, "void", actor=actor, cause=cause)


def replay(event_id: int) -> str:
    """Process a stored notification again on staff's word: a failed one (unreadable when it came, the
    code fixed since) goes back to the inbox's start first. Returns the row's status afterwards."""
    with atomic():
        event = lock(WebhookEvent, event_id)
        if event.status == "failed":
            event.status = "received"
        elif event.status != "received":
            return event.status
    try:
        process(event_id)
    except Exception as exc:  # still out of order or broken: the row keeps the error, the sweeper tries again
        log.info("replay of notification %s failed: %s", event_id, exc)
    db.session.expire_all()
    return db.session.get(WebhookEvent, event_id).status


def unprocessed(older_than) -> list[int]:
    """Inbox rows stored but not processed (a lost job, a crash): the sweeper enqueues them again."""
    return db.session.scalars(select(WebhookEvent.id).where(
        WebhookEvent.status == "received", WebhookEvent.received_at <= older_than).order_by(WebhookEvent.id)).all()


def sweep(older_than) -> int:
    ids = unprocessed(older_than)
    for event_id in ids:
        enqueue(PROCESS_JOB, event_id, job_id=f"notification-{event_id}")
    return len(ids)
