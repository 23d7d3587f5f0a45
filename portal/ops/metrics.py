"""Prometheus metrics (the official prometheus_client): what an operator watches, served at /metrics.

Counters and histograms are kept by the process that sees the event: gunicorn's workers (HTTP, the
notifications received), RQ workers (payments, renewals, dunning, refunds, provider calls). With
PROMETHEUS_MULTIPROC_DIR set (make up sets it; it must exist and be empty when the processes start) every
process writes its values there and /metrics adds them all up (prometheus_client's multiprocess mode).
Backlogs (outbox, inbox, RQ queue, renewals due) are read at scrape time by the process answering.

Business counters are taken from the lifecycle transitions (portal/machines/base.py calls `transition`)
and counted only once their transaction commits: a rolled-back charge is not a charge."""
import os
import re
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from portal.providers.registry import adapter_class

disable_created_metrics()  # the `_created` series only double what an operator reads
_PENDING = "metrics_pending"
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

HTTP_DURATION = Histogram("portal_http_request_duration_seconds", "Time to answer a web request, by route",
                          ("method", "route", "status"), buckets=_LATENCY)
NOTIFICATIONS = Counter("portal_notifications_received_total", "Provider notifications answered, by HTTP status",
                        ("provider", "kind", "status"))
NOTIFICATIONS_REJECTED = Counter("portal_notifications_rejected_total",
                                 "Notifications refused (bad signature, unreadable...), by reason",
                                 ("provider", "kind", "reason"))
NOTIFICATIONS_FAILED = Counter("portal_notifications_failed_total",
                               "Stored notifications that could not be applied and wait for staff", ("kind",))
INBOX_LAG = Histogram("portal_inbox_lag_seconds", "From a notification's arrival to its application",
                      ("kind",), buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900))
PAYMENTS = Counter("portal_payments_total", "Payments by outcome (completed, declined, voided...)", ("status",))
DECLINES = Counter("portal_payment_declines_total", "Declined payments by provider and billing's neutral decline "
                   "category (insufficient_funds, expired_card, never_retry, try_later...)", ("provider", "category"))
RENEWALS = Counter("portal_renewals_total", "Charges of renewal invoices by outcome, dunning retries included",
                   ("outcome",))
DUNNING = Counter("portal_dunning_attempts_total", "Failed attempts on renewal invoices, by attempt number "
                  "(1 is the renewal itself, 2.. the retries)", ("attempt",))
DUNNING_EXHAUSTED = Counter("portal_dunning_exhausted_total", "Subscriptions expired when dunning gave up")
REFUNDS = Counter("portal_refunds_total", "Refunds by outcome", ("status",))
TRANSITIONS = Counter("portal_transitions_total", "Every lifecycle transition", ("entity", "event", "to_state"))
PROVIDER_CALLS = Histogram("portal_provider_call_duration_seconds", "Provider API calls, by endpoint and HTTP status",
                           ("provider", "endpoint", "status"), buckets=_LATENCY)
PROVIDER_THROTTLED = Counter("portal_provider_throttled_total", "Provider calls answered 429", ("provider", "endpoint"))

_ID_IN_PATH = re.compile(r"/(?=[^/]*\d)[0-9A-Za-z_-]{6,}")
_INVOICE_EVENTS = {"pay": "charged", "record_failed_attempt": "failed"}


def transition(entity_type: str, row, event_name: str, source: str, target: str) -> None:
    """A lifecycle transition in the current transaction: counted if and when it commits."""
    measures = _measures(entity_type, row, event_name, source, target)
    _after_commit(lambda: [(metric.labels(*labels) if labels else metric).inc() for metric, labels in measures])


def _decline_category(payment) -> str:
    return str(adapter_class(payment.provider).decline_of(payment.reason_code, payment.reason).category)


def _measures(entity_type, row, event_name, source, target) -> list:
    measures = [(TRANSITIONS, (entity_type, event_name, target))]
    if entity_type == "payment":
        measures.append((PAYMENTS, (target,)))
        if target == "declined":
            measures.append((DECLINES, (row.provider, _decline_category(row))))
    elif entity_type == "invoice" and getattr(row, "kind", None) == "renewal":
        if event_name in _INVOICE_EVENTS:
            measures.append((RENEWALS, (_INVOICE_EVENTS[event_name],)))
        if event_name == "record_failed_attempt":
            measures.append((DUNNING, (str(row.attempt_count or 1),)))
    elif entity_type == "subscription" and (source, target) == ("past_due", "expired"):
        measures.append((DUNNING_EXHAUSTED, ()))
    elif entity_type == "refund" and target in ("succeeded", "failed"):
        measures.append((REFUNDS, (target,)))
    return measures


def _after_commit(count) -> None:
    from portal.extensions import db

    db.session.info.setdefault(_PENDING, []).append(count)


@event.listens_for(Session, "after_commit")
def _count_committed(session):
    for count in session.info.pop(_PENDING, []):
        count()


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session, previous_transaction):
    if not previous_transaction.nested:
        session.info.pop(_PENDING, None)


def notification_rejected(provider: str, kind: str, reason: str) -> None:
    NOTIFICATIONS_REJECTED.labels(provider, kind, reason).inc()


def inbox_status_changed_event(row, value, oldvalue, initiator) -> None:
    if value != oldvalue:
        inbox_status_changed(row, value)


def inbox_status_changed(row, status: str) -> None:
    """A stored notification is applied or given up on (its status column set, counted with its commit)."""
    kind = row.kind or "unknown"
    if status == "failed":
        _after_commit(NOTIFICATIONS_FAILED.labels(kind).inc)
    elif status == "processed" and row.received_at is not None:
        from portal import clock

        lag = max(0.0, (clock.process_now() - row.received_at).total_seconds())
        _after_commit(lambda: INBOX_LAG.labels(kind).observe(lag))


def provider_call(provider: str, endpoint: str, status: int, seconds: float) -> None:
    endpoint = _ID_IN_PATH.sub("/:id", endpoint)  # "POST /payments/:id/capture": one series per endpoint
    PROVIDER_CALLS.labels(provider, endpoint, str(status)).observe(seconds)
    if status == 429:
        PROVIDER_THROTTLED.labels(provider, endpoint).inc()


def http_request(method: str, route: str, status: int, seconds: float, view_args: dict | None) -> None:
    HTTP_DURATION.labels(method, route, str(status)).observe(seconds)
    if route.startswith("/webhooks/") and view_args and "provider" in view_args:
        # CloudPayments names the kind in its path; YooKassa posts every event to one address.
        NOTIFICATIONS.labels(str(view_args["provider"])[:32], str(view_args.get("kind") or "notification")[:16],
                             str(status)).inc()


class Backlogs:
    """Read at scrape time: what is waiting, and for how long."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        with self.app.app_context():
            yield from self._database()
            yield from self._queue()

    def _database(self):
        from portal import clock
        from portal.extensions import db
        from portal.models import OutboxMessage, Subscription, WebhookEvent

        now = clock.process_now()
        try:
            backlog, oldest = db.session.execute(select(func.count(OutboxMessage.id), func.min(
                OutboxMessage.created_at)).where(OutboxMessage.published_at.is_(None))).one()
            inbox, inbox_oldest = db.session.execute(select(func.count(WebhookEvent.id), func.min(
                WebhookEvent.received_at)).where(WebhookEvent.status == "received")).one()
            due = db.session.scalar(select(func.count(Subscription.id)).where(
                Subscription.status.in_(("active", "trialing")), Subscription.current_period_end <= now))
        finally:
            db.session.remove()
        yield _gauge("portal_outbox_backlog", "Outbox rows not yet published to RabbitMQ", backlog)
        yield _gauge("portal_outbox_relay_lag_seconds", "Age of the oldest unpublished outbox row (0: none)",
                     _age(now, oldest))
        yield _gauge("portal_inbox_unprocessed", "Stored notifications not yet applied", inbox)
        yield _gauge("portal_inbox_oldest_unprocessed_seconds", "Age of the oldest notification not yet applied",
                     _age(now, inbox_oldest))
        yield _gauge("portal_renewals_due", "Active or trialing subscriptions whose period has ended", due)

    def _queue(self):
        if not self.app.config.get("REDIS_URL"):
            return
        from portal.queue import job_queues

        depth = GaugeMetricFamily("portal_rq_jobs", "RQ jobs by queue and state", labels=["queue", "state"])
        for queue in job_queues():
            depth.add_metric([queue.name, "queued"], queue.count)
            depth.add_metric([queue.name, "started"], queue.started_job_registry.count)
            depth.add_metric([queue.name, "scheduled"], queue.scheduled_job_registry.count)
            depth.add_metric([queue.name, "failed"], queue.failed_job_registry.count)
        yield depth


def timer() -> float:
    return time.perf_counter()


def timer_seconds(started: float | None) -> float:
    return time.perf_counter() - started if started is not None else 0.0


def _gauge(name, documentation, value):
    return GaugeMetricFamily(name, documentation, value=float(value or 0))


def _age(now, since) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


def exposition(app) -> tuple[bytes, str]:
    """The text /metrics answers: every process's values (multiprocess mode) or this one's, and backlogs."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    output = generate_latest(registry)
    extra = CollectorRegistry()
    extra.register(Backlogs(app))
    return output + generate_latest(extra), CONTENT_TYPE_LATEST

