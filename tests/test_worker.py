"""The `worker` process's BillingWorker: a job holds RQ's started registry on a short lease that is
renewed while it runs, so a killed worker's job is found abandoned in seconds and a slow one never is."""
import threading
import time

from rq.job import JobStatus

from portal.queue import billing_queue
from workers import worker as billing_worker
from workers.worker import BillingWorker


def test_a_job_outliving_its_lease_keeps_it_while_it_runs(app, monkeypatch):
    monkeypatch.setattr(billing_worker, "HEARTBEAT_TTL", 2)
    monkeypatch.setattr(billing_worker, "HEARTBEAT_EVERY", 0.5)
    monkeypatch.setattr(billing_worker, "worker_app", lambda: app)  # the test's app, not one from the environment
    queue = billing_queue()
    job = queue.enqueue("time.sleep", args=(4,))  # twice its lease
    abandoned_seen = []

    def maintenance_pass_meanwhile():
        time.sleep(3)  # past the first lease: only the renewals keep the job's entry
        queue.started_job_registry.cleanup()  # what any worker's maintenance does
        abandoned_seen.append(job.get_status(refresh=True))

    watcher = threading.Thread(target=maintenance_pass_meanwhile)
    watcher.start()
    BillingWorker([queue], connection=queue.connection).work(burst=True)
    watcher.join()
    assert abandoned_seen == [JobStatus.STARTED]  # still running, not failed or retried
    assert job.get_status(refresh=True) == JobStatus.FINISHED


def test_rq_defaults_give_way_to_the_short_lease_but_a_chosen_value_stays(app):
    queue = billing_queue()
    chosen = BillingWorker([queue], connection=queue.connection, worker_ttl=100, maintenance_interval=60)
    assert (chosen.worker_ttl, chosen.maintenance_interval) == (100, 60)
    default = BillingWorker([queue], connection=queue.connection, worker_ttl=420, maintenance_interval=600)
    assert (default.worker_ttl, default.maintenance_interval) == (billing_worker.WORKER_TTL,
                                                                 billing_worker.MAINTENANCE_EVERY)
