"""Whole billing flows: the portal and the sandbox over HTTP, jobs run by real RQ workers on Redis."""
import time

import pytest
import requests
from rq import SimpleWorker

from portal.billing.checkout import start_checkout, widget_parameters
from portal.extensions import db
from portal.queue import RETRY_INTERVALS, job_queues

SUCCESS_CARD = "4000 0000 0000 3055"  # no 3-DS; first payment and later token charges succeed
LATER_DECLINED_CARD = "4111 1111 1111 1111"  # first payment succeeds, token charges: insufficient funds
DECLINED_CARD = "4000 0566 5566 5556"  # insufficient funds (5051) at once


class Billing:
    """What a test does as the customer, the provider and the worker pool."""

    def __init__(self, live):
        self.live = live

    def work(self, rounds=10):
        """Empty the job queues with a real RQ worker, as the Procfile's worker takes them (jobs enqueue more
        jobs: go until empty)."""
        queues = job_queues()
        for _ in range(rounds):
            if not any(queue.count or queue.scheduled_job_registry.get_job_ids() for queue in queues):
                return
            SimpleWorker(queues, connection=queues[0].connection).work(burst=True, with_scheduler=True)
        assert not any(queue.count for queue in queues), "the queues keep refilling"

    def failed_jobs(self):
        """Jobs that raised: failed for good, or scheduled again for a retry."""
        jobs = []
        for queue in job_queues():
            failed = [queue.fetch_job(job_id) for job_id in queue.failed_job_registry.get_job_ids()]
            retrying = [job for job in (queue.fetch_job(job_id)
                                        for job_id in queue.scheduled_job_registry.get_job_ids())
                        if job and job.retries_left is not None and job.retries_left < len(RETRY_INTERVALS)]
            jobs += [job for job in failed if job] + retrying
        return jobs

    def assert_no_failed_jobs(self):
        failed = self.failed_jobs()
        assert not failed, "\n".join(f"{job.func_name}{job.args}: {job.exc_info or job.latest_result()}"
                                      for job in failed)

    def checkout(self, customer, plan_code):
        sub, invoice = start_checkout(customer, plan_code)
        params = widget_parameters(invoice)
        db.session.commit()
        return sub, invoice, params

    def pay(self, params, card=SUCCESS_CARD, **overrides):
        """What the widget does when the customer enters a card: Check, authorisation, Pay or Fail."""
        body = {**params, **overrides, "cardNumber": card, "expDate": "12/30", "cvv": "123"}
        body.setdefault("type", params.get("scheme", "charge"))
        response = requests.post(f"{self.live.sandbox_url}/widget/pay", json=body, timeout=30)
        return response.json()

    def sandbox(self, method, path, **kwargs):
        return requests.request(method, f"{self.live.sandbox_url}{path}", timeout=30, **kwargs)

    def wait_for_notification(self, kind, transaction_id, seconds=10):
        """Until the sandbox has delivered this notification to the portal (answered {"code": 0})."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            log = self.sandbox("GET", f"/notifications?type={kind}&transaction_id={transaction_id}").json()
            if any(entry["delivered"] for entry in log):
                return
            time.sleep(0.1)
        raise AssertionError(f"the {kind} notification for {transaction_id} was not delivered")

    def provider_transactions(self, invoice_id):
        """What the provider itself holds for an invoice, straight from the sandbox's books."""
        return [t for t in self.sandbox("GET", "/transactions").json() if str(t["InvoiceId"]) == str(invoice_id)]


@pytest.fixture
def billing(app, live):
    requests.post(f"{live.sandbox_url}/control/reset", timeout=10)
    return Billing(live)
