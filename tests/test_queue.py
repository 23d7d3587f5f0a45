"""Jobs that depend on a transaction are enqueued when it commits, never when it rolls back."""
import pytest

from portal.extensions import db
from portal.machines import atomic
from portal.queue import billing_queue, enqueue_after_commit


def test_job_is_enqueued_only_after_commit(app):
    with atomic():
        enqueue_after_commit(db.session(), "workers.ticks.renewals", job_id="after-commit-1")
        assert billing_queue().job_ids == []  # the worker must not run before our rows are visible
    assert billing_queue().job_ids == ["after-commit-1"]


def test_job_of_a_rolled_back_transaction_is_never_enqueued(app):
    with pytest.raises(RuntimeError):
        with atomic():
            enqueue_after_commit(db.session(), "workers.ticks.renewals", job_id="after-commit-2")
            raise RuntimeError("the change failed")
    with atomic():
        pass
    assert billing_queue().job_ids == []


def test_many_jobs_are_enqueued_once_while_they_wait(app):
    from portal.queue import enqueue_each

    work = [(f"many-{n}", (n,)) for n in range(5)]
    assert enqueue_each("workers.ticks.renewals", work) == 5
    assert enqueue_each("workers.ticks.renewals", work + [("many-5", (5,))]) == 1
    assert sorted(billing_queue().job_ids) == [f"many-{n}" for n in range(6)]


def test_a_nudge_queues_one_job_until_that_job_starts(app):
    from portal.queue import nudge, nudged

    for _ in range(5):
        nudge("workers.notifications.drain_inbox")
    assert len(billing_queue().jobs) == 1
    nudged("workers.notifications.drain_inbox")  # what the job does first
    nudge("workers.notifications.drain_inbox")
    assert len(billing_queue().jobs) == 2
