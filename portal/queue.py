"""Handing work to the background: RQ on Redis when configured, a thread of this process in the
embedded default. Jobs are named by dotted path, so the web side never imports the worker side."""
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import cache

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.utils import import_string

from portal.ops import context

log = logging.getLogger(__name__)

BILLING_QUEUE = "billing"
MAIL_QUEUE = "mail"
# The queues a worker serves, in the order it takes them: money before mail. A burst of receipts (ten thousand
# renewals settle in a minute) never delays a charge, a refund or the Pay a customer is watching; mail goes out
# the moment the billing queue is empty, which under the heaviest run is a minute or two later.
QUEUES = (BILLING_QUEUE, MAIL_QUEUE)
MAIL_JOBS = "workers.mail."
# A job that fails on a passing problem (provider throttled, database restarted) is tried again.
RETRY_INTERVALS = [2, 10, 30, 120, 600]
_AFTER_COMMIT = "jobs_after_commit"
# A job in one of these states will run: enqueueing the same work again would only run it twice.
WAITING = ("queued", "deferred", "scheduled")
NUDGE_TTL = 30


@cache
def _redis(url):
    from redis import Redis

    return Redis.from_url(url)


def job_queue(name: str = BILLING_QUEUE):
    from rq import Queue

    return Queue(name, connection=_redis(current_app.config["REDIS_URL"]))


def billing_queue():
    return job_queue(BILLING_QUEUE)


def mail_queue():
    return job_queue(MAIL_QUEUE)


def job_queues() -> list:
    """Every queue a worker serves, in the order it takes them."""
    return [job_queue(name) for name in QUEUES]


def queue_for(path: str) -> str:
    return MAIL_QUEUE if path.startswith(MAIL_JOBS) else BILLING_QUEUE


def waiting_jobs() -> list:
    """The jobs waiting on any queue, in the order a worker would take them."""
    return [job for queue in job_queues() for job in queue.jobs]


def enqueue(path: str, *args, job_id: str | None = None, delay: timedelta | None = None, **kwargs):
    """Run `path(*args, **kwargs)` as a job (after `delay`, if given). With Redis: an RQ job on the queue of its
    kind (queue_for), retried on failure; a job_id makes a second enqueue of the same work a no-op while the
    first is waiting.
    Embedded: on this process's job thread, one job at a time, without delay; a failure is logged and
    left to the sweepers, as a failed RQ job would be."""
    if current_app.config.get("REDIS_URL"):
        queue = job_queue(queue_for(path))
        if job_id is not None:
            existing = queue.fetch_job(job_id)
            if existing is not None and existing.get_status(refresh=True).value in WAITING:
                return existing
        if delay is not None:
            return queue.enqueue_in(delay, path, args=args, kwargs=kwargs, job_id=job_id, **_job_options())
        return queue.enqueue(path, args=args, kwargs=kwargs, job_id=job_id, **_job_options())
    app = current_app._get_current_object()
    return _embedded_jobs().submit(_run_embedded, app, path, args, kwargs)


def nudge(path: str) -> None:
    """Make sure a job of `path` (taking no arguments) runs after this moment, without queueing one per
    call: the first call since such a job last started enqueues one, the calls while it waits add
    nothing. The job calls `nudged(path)` before it looks for work, so whatever a later call was about
    is seen by it or by the job that later call enqueues. A job lost with its worker holds the way for
    NUDGE_TTL seconds at most (and the sweepers find its work)."""
    if current_app.config.get("REDIS_URL"):
        if _redis(current_app.config["REDIS_URL"]).set(f"portal:nudged:{path}", 1, nx=True, ex=NUDGE_TTL):
            enqueue(path)
        return
    enqueue(path)


def nudged(path: str) -> None:
    if current_app.config.get("REDIS_URL"):
        _redis(current_app.config["REDIS_URL"]).delete(f"portal:nudged:{path}")


def enqueue_each(path: str, work: list[tuple[str, tuple]]) -> int:
    """Many jobs of one kind at once, as (job_id, args) pairs: one round trip to Redis to skip those
    still waiting, one to enqueue the rest. A tick with ten thousand renewals due stays quick."""
    if not current_app.config.get("REDIS_URL"):
        for job_id, args in work:
            enqueue(path, *args, job_id=job_id)
        return len(work)
    from rq import Queue
    from rq.job import Job

    queue = job_queue(queue_for(path))
    with queue.connection.pipeline() as pipe:
        for job_id, _ in work:
            pipe.hget(Job.key_for(job_id), "status")
        statuses = pipe.execute()
    fresh = [Queue.prepare_data(path, args=args, job_id=job_id, **_job_options())
             for (job_id, args), status in zip(work, statuses, strict=True)
             if (status or b"").decode() not in WAITING]
    for start in range(0, len(fresh), 1000):
        queue.enqueue_many(fresh[start:start + 1000])
    return len(fresh)


def _job_options() -> dict:
    from rq import Retry

    return {"retry": Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS), "failure_ttl": 7 * 24 * 3600,
            **context.job_meta()}


def enqueue_after_commit(session, path: str, *args, **kwargs) -> None:
    """Enqueue once the current transaction commits (never if it rolls back): the job must find what
    this transaction wrote, and must not exist if the transaction never happened."""
    if not session.in_transaction():
        session.begin()  # so that a rollback, even of a transaction that wrote nothing, is seen
    session.info.setdefault(_AFTER_COMMIT, []).append((current_app._get_current_object(), path, args, kwargs))


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session):
    for app, path, args, kwargs in session.info.pop(_AFTER_COMMIT, []):
        with app.app_context():
            enqueue(path, *args, **kwargs)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session, previous_transaction):
    # Any rollback of the outer transaction, also one that never reached the database.
    if not previous_transaction.nested:
        session.info.pop(_AFTER_COMMIT, None)


@cache
def _embedded_jobs():
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedded-job")


def _run_embedded(app, path, args, kwargs):
    from portal.extensions import db

    with app.app_context():
        try:
            return import_string(path)(*args, **kwargs)
        except Exception:
            log.exception("in-process job %s%r failed; the sweepers will pick the work up again", path, args)
            return None
        finally:
            db.session.remove()
