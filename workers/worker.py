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
flight at once; keep it at or under the provider terminal's concurrency limit."""
from rq import SimpleWorker

from workers import worker_app


class BillingWorker(SimpleWorker):
    """A non-forking RQ worker that creates the portal app once per process."""

    def work(self, *args, **kwargs):
        # Before the first job: the first charge must not wait for create_app(), and a broken
        # configuration stops the process at start, not job by job.
        worker_app()
        return super().work(*args, **kwargs)
