"""A worker killed after the provider accepted a charge and before our commit: rerunning the job asks
the provider the same question (same X-Request-ID) and records the one charge once."""
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import Invoice, Payment, Subscription
from tests.flows.test_renewals import paid_subscription, renewal_invoices
from workers import ticks

ROOT = Path(__file__).resolve().parents[2]


def worker_process(app, live, log):
    """`rq worker` as the Procfile runs it, configured only through the environment."""
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": app.config["REDIS_URL"],
           "SECRET_KEY": app.config["SECRET_KEY"], "PAYMENT_PROVIDER": "sandbox", "SANDBOX_URL": live.sandbox_url,
           "CLOUDPAYMENTS_PUBLIC_ID": app.config["CLOUDPAYMENTS_PUBLIC_ID"],
           "CLOUDPAYMENTS_API_SECRET": app.config["CLOUDPAYMENTS_API_SECRET"]}
    env.pop("AMQP_URL", None)
    rq = Path(sys.executable).with_name("rq")
    return subprocess.Popen([str(rq), "worker", "--burst", "--url", app.config["REDIS_URL"], "billing"], cwd=ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def test_worker_killed_between_provider_charge_and_commit_charges_once(billing, live, app, tmp_path):
    sub = paid_subscription(billing)
    # The period ended a minute ago (real time: the worker process has its own clock).
    sub.current_period_start -= timedelta(days=31)
    sub.current_period_end = clock.now() - timedelta(minutes=1)
    db.session.commit()
    assert ticks.renewals() == 1

    # The provider takes the charge, then the answer never comes back: the worker sits in the call.
    billing.sandbox("POST", "/control", json={"timeout_next": 1, "timeout_seconds": 60})
    log = (tmp_path / "worker.log").open("w")
    worker = worker_process(app, live, log)
    deadline = time.monotonic() + 30
    renewal = None
    while time.monotonic() < deadline:
        db.session.expire_all()
        renewal = next(iter(renewal_invoices(sub.id)), None)
        if renewal is not None and billing.provider_transactions(renewal.id):
            break
        time.sleep(0.2)
    assert renewal is not None and billing.provider_transactions(renewal.id), (tmp_path / "worker.log").read_text()
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)

    db.session.expire_all()
    assert db.session.scalars(select(Payment).where(Payment.invoice_id == renewal.id)).all() == []

    # The next cron tick finds the renewal still open and hands it to a worker again.
    billing.sandbox("POST", "/control", json={"timeout_next": 0})
    ticks.renewals()
    billing.work()

    db.session.expire_all()
    charges = [t for t in billing.provider_transactions(renewal.id) if t["Status"] == "Completed"]
    assert len(charges) == 1
    [payment] = db.session.scalars(select(Payment).where(Payment.invoice_id == renewal.id)).all()
    assert payment.provider_transaction_id == str(charges[0]["TransactionId"])
    assert db.session.get(Invoice, renewal.id).status == "paid"
    assert db.session.get(Subscription, sub.id).status == "active"
