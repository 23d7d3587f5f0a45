"""The worker class the `worker` process runs: `rq worker -w workers.worker.BillingWorker billing`.

RQ's default Worker forks a work horse for every job. Our jobs are short database transactions and
provider calls, so the fork, and above all the Flask app the child must build again (create_app, the
models, the provider, a new connection pool: `workers.job` caches the app per process, and a forked
child's cache dies with it), cost more than the job itself: about 80 trivial jobs/s per process.
BillingWorker runs jobs in its own process (SimpleWorker) and builds the app once, before the first
job, so every job reuses the app, its connection pool and its provider session: measured in
bench/README.md (transition throughput, worker memory).

What is lost is the fork's isolation: a job that leaks memory or leaves a connection half-used would
hurt the next one. `workers.job` removes the session after every job (the transaction is over, the
connection goes back to the pool), and the bench checks the resident memory after 1,000 and 10,000 jobs.
Job timeouts still work: SimpleWorker uses the SIGALRM death penalty in the worker's main thread.

Concurrency is processes, not threads: scale the `worker` process type (several of these processes).
Each takes one job at a time, so the number of worker processes is also the most provider calls in
flight at once; keep it at or under the provider terminal's concurrency limit.

A worker killed mid-job (SIGKILL, OOM, a lost host) leaves its job in RQ's started registry until the
entry's lease runs out and some worker's maintenance pass fails it, which retries it. RQ's leases are
long (a SimpleWorker's is the job timeout + 60 s, maintenance every 10 minutes), so a killed drain or
charge sat there for minutes. Here the lease is HEARTBEAT_TTL, renewed every HEARTBEAT_EVERY by a
thread while the job runs, and every worker runs maintenance every MAINTENANCE_EVERY (an idle one
wakes for it, its dequeue wait being WORKER_TTL - 15 s): a killed job is found abandoned within
HEARTBEAT_TTL + MAINTENANCE_EVERY and retried through RQ's scheduler after its retry interval. If the
killed worker was the one running the scheduler, its lock holds for another minute (RQ's, not ours), so
work that must not wait that long has its own recovery: stranded Pay notifications the drain-recovery
tick (`workers/ticks.py`), renewals the renewals tick."""
import logging
import threading

from rq import SimpleWorker
from rq.defaults import DEFAULT_MAINTENANCE_TASK_INTERVAL, DEFAULT_WORKER_TTL
from rq.worker import WorkerStatus

from portal.ops import context
from workers import worker_app

log = logging.getLogger(__name__)

HEARTBEAT_TTL = 15
HEARTBEAT_EVERY = 5
MAINTENANCE_EVERY = 10
WORKER_TTL = 25


class BillingWorker(SimpleWorker):
    """A non-forking RQ worker that creates the portal app once per process and holds its job on a short,
    renewed lease."""

    def __init__(self, *args, worker_ttl=None, maintenance_interval=DEFAULT_MAINTENANCE_TASK_INTERVAL, **kwargs):
        # `rq worker` always passes its defaults; those (not a value given on the command line) give way.
        kwargs.pop("default_worker_ttl", None)
        super().__init__(
            *args, worker_ttl=WORKER_TTL if worker_ttl in (None, DEFAULT_WORKER_TTL) else worker_ttl,
            maintenance_interval=(MAINTENANCE_EVERY if maintenance_interval == DEFAULT_MAINTENANCE_TASK_INTERVAL
                                  else maintenance_interval), **kwargs)

    def work(self, *args, **kwargs):
        # Before the first job: the first charge must not wait for create_app(), and a broken
        # configuration stops the process at start, not job by job.
        worker_app()
        return super().work(*args, **kwargs)

    def get_heartbeat_ttl(self, job) -> int:
        return HEARTBEAT_TTL

    def execute_job(self, job, queue):
        self.prepare_execution(job)
        done = threading.Event()
        beating = threading.Thread(target=self._renew_lease, args=(job, done), name="rq-lease", daemon=True)
        beating.start()
        try:
            self.perform_job(job, queue)
        finally:
            done.set()
            beating.join()
            context.start()  # the next job's lines (and the idle worker's) name nothing of this one
        self.set_state(WorkerStatus.IDLE)

    def _renew_lease(self, job, done: threading.Event) -> None:
        while not done.wait(HEARTBEAT_EVERY):
            try:
                self.maintain_heartbeats(job)
            except Exception:  # Redis away for a moment: the next beat tries again, the job goes on
                log.warning("could not renew the lease of job %s", job.id, exc_info=True)
