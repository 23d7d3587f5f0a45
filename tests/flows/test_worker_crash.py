"""Workers killed mid-job. After the provider accepted a charge and before our commit: rerunning the job
asks the provider the same question (same X-Request-ID) and records the one charge once. Holding a batch
of Pay notifications: the paid customers are active within seconds, not when the sweeper comes."""
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from portal import clock
from portal.billing import inbox
from portal.extensions import db
from portal.models import Invoice, Payment, Subscription, WebhookEvent
from portal.queue import billing_queue, nudged
from tests.flows.test_inbox import checkouts, notify
from tests.flows.test_renewals import paid_subscription, renewal_invoices
from tests.test_web_server import procfile_command
from workers import ticks

ROOT = Path(__file__).resolve().parents[2]


def process_environment(app, live):
    """A deployment's environment for the processes of the Procfile, pointed at this run's services."""
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": app.config["REDIS_URL"],
           "SECRET_KEY": app.config["SECRET_KEY"], "PAYMENT_PROVIDER": "sandbox", "SANDBOX_URL": live.sandbox_url,
           "CLOUDPAYMENTS_PUBLIC_ID": app.config["CLOUDPAYMENTS_PUBLIC_ID"],
           "CLOUDPAYMENTS_API_SECRET": app.config["CLOUDPAYMENTS_API_SECRET"], "TRUSTED_HOSTS": "127.0.0.1",
           "SMTP_URL": app.config["SMTP_URL"], "MAIL_FROM": app.config["MAIL_FROM"],
           "PUBLIC_URL": app.config["PUBLIC_URL"],
           "METRICS_TOKEN": "test-metrics-token",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("AMQP_URL", None)
    return env


def worker_process(app, live, log):
    """`rq worker` as the Procfile runs it, configured only through the environment."""
    rq = Path(sys.executable).with_name("rq")
    return subprocess.Popen([str(rq), "worker", "--burst", "--url", app.config["REDIS_URL"], "billing", "mail"],
                            cwd=ROOT, env=process_environment(app, live), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def procfile_process(app, live, name, log):
    """A process of the Procfile exactly as it is written there (its own session, to be killed whole)."""
    return subprocess.Popen(["sh", "-c", f"exec {procfile_command(name)}"], cwd=ROOT,
                            env=process_environment(app, live), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(process, sig=signal.SIGTERM):
    if process.poll() is None:
        os.killpg(process.pid, sig)
    process.wait(timeout=30)


def test_a_worker_killed_holding_the_last_drain_batch_leaves_no_customer_pending_for_long(billing, live, app,
                                                                                           tmp_path):
    invoices = checkouts(billing, 3)
    dsn = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql").render_as_string(
        hide_password=False)
    # Someone else holds the last invoice for a moment: the drain claims the three Pays, locks the first two
    # invoices and waits for the third, inside its batch's transaction. That is when its worker dies.
    holder = psycopg.connect(dsn)
    holder.execute(f"SELECT id FROM {Invoice.__tablename__} WHERE id = %s FOR UPDATE", (invoices[-1].id,))
    for n, invoice in enumerate(invoices):
        notify(live, invoice, 7780000 + n)
    logs = {name: (tmp_path / f"{name}.log").open("w") for name in ("killed", "worker", "cron")}
    killed = procfile_process(app, live, "worker", logs["killed"])
    processes = [killed]
    try:
        with psycopg.connect(dsn, autocommit=True) as watcher:
            deadline = time.monotonic() + 30
            while not watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                      "AND wait_event_type = 'Lock'").fetchone()[0]:
                assert time.monotonic() < deadline, (tmp_path / "killed.log").read_text()
                time.sleep(0.2)
        stop(killed, signal.SIGKILL)
        holder.rollback()  # the killed worker's transaction now rolls back: the three Pays are untried again
        killed_at = time.monotonic()
        db.session.expire_all()
        assert db.session.scalar(select(func.count()).select_from(WebhookEvent).where(
            WebhookEvent.status == "received", WebhookEvent.attempts == 0)) == 3

        # What a deployment keeps running: another worker and the cron process. No Pay arrives any more.
        processes += [procfile_process(app, live, "worker", logs["worker"]),
                      procfile_process(app, live, "cron", logs["cron"])]
        statuses = []
        while time.monotonic() - killed_at < 30:
            db.session.expire_all()
            statuses = [db.session.get(Subscription, i.subscription_id).status for i in invoices]
            if statuses == ["active"] * 3:
                break
            time.sleep(0.5)
        assert statuses == ["active"] * 3, "\n".join(f"--- {name}\n{(tmp_path / f'{name}.log').read_text()}"
                                                     for name in logs)
        recovered_in = time.monotonic() - killed_at
        assert recovered_in < ticks.SWEEP_AFTER.total_seconds() / 4  # long before the sweeper's two minutes
        assert all(db.session.get(Invoice, i.id).status == "paid" for i in invoices)
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 3
    finally:
        holder.close()
        for process in processes:
            stop(process)
        for log in logs.values():
            log.close()


def test_the_recovery_tick_queues_a_drain_for_pays_left_untried(billing, live):
    invoices = checkouts(billing, 2)
    for n, invoice in enumerate(invoices):
        notify(live, invoice, 7781000 + n)
    billing_queue().empty()  # their drain started (taking the nudge) and was lost with its worker
    nudged(inbox.DRAIN_JOB)
    assert ticks.drain_recovery() is False  # just stored: a drain may still be on its way

    clock.advance(inbox.STRANDED_AFTER + timedelta(seconds=1))
    assert ticks.drain_recovery() is True
    assert [job.func_name for job in billing_queue().jobs] == [inbox.DRAIN_JOB]
    billing.work()
    db.session.expire_all()
    assert [db.session.get(Subscription, i.subscription_id).status for i in invoices] == ["active", "active"]
    assert ticks.drain_recovery() is False  # nothing left untried: no more drains


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
