"""JSON log lines: a request id on every web request, carried into the jobs it enqueues; the rows a job locks
named in its lines; no card token or credential in any line."""
import io
import json
import logging

import pytest
from rq import SimpleWorker

from portal.extensions import db
from portal.machines import atomic, lock
from portal.models import Subscription
from portal.ops import context
from portal.ops.logs import JsonFormatter
from portal.queue import billing_queue, enqueue
from tests.factories import make_subscription
from workers import job


@pytest.fixture
def lines():
    """Every log line of the test as parsed JSON, through the formatter the processes use."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_every_request_has_a_request_id_on_its_line_and_in_its_answer(app, client, lines):
    given = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a2c9e"})
    made = client.get("/healthz", headers={"X-Request-ID": "not an id <script>"})

    assert given.headers["X-Request-ID"] == "lb-7f3a2c9e"  # a proxy's id is kept
    assert len(made.headers["X-Request-ID"]) == 32 and " " not in made.headers["X-Request-ID"]
    requests = [line for line in lines() if line["logger"] == "portal.request"]
    assert [(r["request_id"], r["route"], r["status"]) for r in requests] == [
        ("lb-7f3a2c9e", "/healthz", 200), (made.headers["X-Request-ID"], "/healthz", 200)]
    assert all(r["level"] == "info" and r["ts"].endswith("Z") for r in requests)


def test_a_job_enqueued_by_a_request_carries_its_request_id_and_names_the_rows_it_locks(app, lines):
    sub = make_subscription(status="active")
    with app.test_request_context("/"):
        context.start(request_id="req-from-the-web-1")
        job = enqueue("tests.ops.test_logs.lock_and_log", sub.id, job_id="log-test-lock")
    context.start()  # the worker's own context knows nothing of the request
    assert job.meta["request_id"] == "req-from-the-web-1"

    queue = billing_queue()
    SimpleWorker([queue], connection=queue.connection).work(burst=True)

    [line] = [line for line in lines() if line["message"] == "locked it"]
    assert (line["request_id"], line["job_id"], line["subscription_id"], line["customer_id"]) == (
        "req-from-the-web-1", "log-test-lock", sub.id, sub.customer_id)


@job
def lock_and_log(sub_id):
    with atomic():
        lock(Subscription, sub_id)
        logging.getLogger("tests.ops").info("locked it")


def test_a_batch_of_rows_names_none_of_them(app, lines):
    first, second = make_subscription(status="active"), make_subscription(status="active")
    context.start(request_id="batch")
    with atomic():
        lock(Subscription, first.id)
        lock(Subscription, second.id)
        logging.getLogger("tests.ops").info("two locked")
    [line] = [line for line in lines() if line["message"] == "two locked"]
    assert "subscription_id" not in line and line["batch"] is True


def test_card_tokens_and_credentials_never_reach_a_line(app, lines):
    log = logging.getLogger("tests.ops")
    log.info("charging token tk_4f8a9b2c7d1e6f3a for invoice 7")
    log.warning("sent Authorization: Basic cGtfdGVzdDpzZWNyZXQ= to the provider")
    log.info("form had password=hunter2&email=a@example.com")
    try:
        raise ValueError("token=tk_9a8b7c6d5e4f3a2b")
    except ValueError:
        log.exception("failed")

    text = json.dumps(lines())
    for secret in ("tk_4f8a9b2c7d1e6f3a", "cGtfdGVzdDpzZWNyZXQ=", "hunter2", "tk_9a8b7c6d5e4f3a2b"):
        assert secret not in text
    assert "invoice 7" in text and "a@example.com" in text  # the rest of each line stays readable
    db.session.rollback()


def test_a_notification_being_applied_names_its_provider_transaction(app, lines):
    from portal.models import WebhookEvent

    event = WebhookEvent(provider="cloudpayments", kind="fail", transaction_id="504", status="received",
                         body=b"{}", attempts=0)
    db.session.add(event)
    db.session.commit()
    context.start(request_id="from-the-provider")
    with atomic():
        lock(WebhookEvent, event.id)
        logging.getLogger("tests.ops").info("applying it")
    [line] = [line for line in lines() if line["message"] == "applying it"]
    assert (line["notification_id"], line["transaction_id"]) == (event.id, "504")
