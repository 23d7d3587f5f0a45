"""`make up`'s script runs the whole Procfile under honcho against a database, a vhost and ports of this
test's own and the run's own Redis database; a customer pays through the sandbox end to end, a test clock
makes the renewal fail, /metrics shows it all, and the logs of the run carry request ids and no secret or
card token."""
import json
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import requests
from sqlalchemy.engine import make_url

from tests import isolation
from tests.conftest import AMQP_URL, BASE_DATABASE_URL, RUN_ID, _admin_dsn
from tests.flows.conftest import LATER_DECLINED_CARD
from tests.mailbox import free_port
from tests.ops.support import metric

ROOT = Path(__file__).resolve().parents[2]
UP = [sys.executable, str(ROOT / "deploy" / "up.py")]
LINE = re.compile(r"^\S+ (?P<process>[a-z]+)\.\d+\s*\| (?P<text>.*)$")


class Topology:
    def __init__(self, tmp_path, smtp_url, redis_url):
        self.owner = f"portal-topology-{uuid.uuid4().hex[:8]}"
        self.database = f"portal_topology_{uuid.uuid4().hex[:8]}"
        # The run's own Redis database (claimed for it, emptied after): no other test runs meanwhile.
        self.redis_url = redis_url
        self.vhost = self.owner.replace("-", "_")
        self.amqp_url = isolation.add_vhost(AMQP_URL, self.vhost)
        self.port, self.sandbox_port = free_port(), free_port()
        self.dir = tmp_path / "up"
        self.web = f"http://127.0.0.1:{self.port}"
        self.sandbox = f"http://127.0.0.1:{self.sandbox_port}"
        self.api_token = "topology-" + uuid.uuid4().hex
        self.env = {**os.environ, "UP_DIR": str(self.dir), "PORTAL_ENV_FILE": str(tmp_path / "portal.env"),
                    "DATABASE_URL": make_url(BASE_DATABASE_URL).set(database=self.database)
                    .render_as_string(hide_password=False),
                    "REDIS_URL": self.redis_url, "AMQP_URL": self.amqp_url or AMQP_URL,
                    "PORT": str(self.port), "SANDBOX_PORT": str(self.sandbox_port), "SMTP_URL": smtp_url,
                    "LOCAL_API_TOKEN": self.api_token, "WORKERS": "2", "WEB_CONCURRENCY": "2"}

    def script(self, command):
        return subprocess.run([*UP, command], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=180)

    def secrets(self) -> dict:
        values = dict(line.split("=", 1) for line in (self.dir / "portal.env").read_text().splitlines() if "=" in line)
        return {name: values[name] for name in ("SECRET_KEY", "METRICS_TOKEN", "CLOUDPAYMENTS_API_SECRET",
                                                "LOCAL_API_TOKEN")}

    def api(self, method, path, **kwargs):
        headers = {"Authorization": f"Bearer {self.api_token}", "Idempotency-Key": uuid.uuid4().hex}
        return requests.request(method, f"{self.web}/api/v1{path}", headers=headers, timeout=30, **kwargs)

    def log_lines(self):
        for raw in (self.dir / "topology.log").read_text(errors="replace").splitlines():
            match = LINE.match(raw)
            if match:
                try:
                    yield match["process"], json.loads(match["text"])
                except ValueError:
                    yield match["process"], match["text"]

    def cleanup(self):
        self.script("down")
        isolation.empty_redis_database(self.redis_url, RUN_ID)
        if self.amqp_url:
            isolation.delete_vhost(self.vhost)
        with psycopg.connect(_admin_dsn(BASE_DATABASE_URL), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


@pytest.fixture
def topology(tmp_path, smtp_server, redis_url):
    topo = Topology(tmp_path, smtp_server.url, redis_url)
    try:
        yield topo
    finally:
        topo.cleanup()


def until(what, check, seconds=45):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"{what} did not happen within {seconds}s")


def subscription(topo, sub_id):
    return topo.api("GET", f"/customers/topology-customer/subscriptions/{sub_id}").json()


def test_make_up_runs_the_topology_a_customer_pays_and_metrics_and_logs_show_it(topology):
    started = topology.script("up")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "RabbitMQ topology declared" in started.stdout and "billing.commands" in started.stdout

    pay = topology.api("POST", "/pay", json={"customer": {"external_id": "topology-customer",
                                                           "email": "topology@example.com"}, "plan": "monthly"})
    assert pay.status_code == 201, pay.text
    request_id = pay.headers["X-Request-ID"]
    widget = pay.json()["widget"]
    paid = requests.post(f"{topology.sandbox}/widget/pay", timeout=30, json={
        **widget, "type": "charge", "cardNumber": LATER_DECLINED_CARD, "expDate": "12/30", "cvv": "123"}).json()
    assert paid["Success"] is True, paid
    sub_id = pay.json()["subscription"]["id"]
    active = until("activation", lambda: (s := subscription(topology, sub_id))["status"] == "active" and s)

    # The customer's test clock past the period end: the renewal is charged, and declined, by the workers.
    period_end = datetime.fromisoformat(active["current_period_end"].replace("Z", "+00:00"))
    moved = topology.api("POST", "/test-clocks/topology-customer/advance",
                         json={"to": (period_end + timedelta(minutes=1)).isoformat()})
    assert moved.status_code == 200, moved.text
    until("the failed renewal", lambda: subscription(topology, sub_id)["status"] == "past_due")

    secrets = topology.secrets()
    assert requests.get(f"{topology.web}/metrics", headers={"X-Forwarded-For": "203.0.113.9"},
                        timeout=10).status_code == 401
    scraped = requests.get(f"{topology.web}/metrics", timeout=10,
                           headers={"X-Forwarded-For": "203.0.113.9",
                                    "Authorization": f"Bearer {secrets['METRICS_TOKEN']}"})
    assert scraped.status_code == 200
    def relayed():
        text = requests.get(f"{topology.web}/metrics", timeout=10).text
        return text if metric(text, "portal_outbox_backlog") == 0 else None

    text = until("the outbox relayed", relayed)
    (topology.dir / "metrics.txt").write_text(text)
    assert metric(text, "portal_notifications_received_total", kind="pay", status="200") >= 1
    assert metric(text, "portal_payments_total", status="completed") >= 1
    assert metric(text, "portal_payment_declines_total", category="insufficient_funds") >= 1
    assert metric(text, "portal_renewals_total", outcome="failed") == 1
    assert metric(text, "portal_dunning_attempts_total", attempt="1") == 1
    assert metric(text, "portal_provider_call_duration_seconds_count", endpoint="payments/tokens/charge") >= 1
    assert metric(text, "portal_http_request_duration_seconds_count", route="/api/v1/pay", status="201") == 1
    assert metric(text, "portal_rq_jobs", state="failed") == 0
    card_tokens = {t["Token"] for t in requests.get(f"{topology.sandbox}/transactions", timeout=10).json()
                   if t.get("Token")}
    assert card_tokens

    assert topology.script("down").returncode == 0
    assert not (topology.dir / "honcho.pid").exists()
    log = (topology.dir / "topology.log").read_text()
    for name, value in secrets.items():
        assert value not in log, f"{name} is in the logs"
    for token in card_tokens:
        assert token not in log, "a card token is in the logs"
    assert LATER_DECLINED_CARD.replace(" ", "") not in log.replace(" ", "")

    lines = list(topology.log_lines())
    structured = [(process, line) for process, line in lines if isinstance(line, dict)]
    assert {"web", "worker", "cron", "bridge"} <= {process for process, _ in structured}
    # gunicorn bound where HOST and PORT say.
    assert any(f"Listening at: http://127.0.0.1:{topology.port} " in line["message"] for _, line in structured)
    # The pay request's id is on its own line, and on the jobs it enqueued.
    assert any(line.get("request_id") == request_id and process == "web" for process, line in structured)
    # The clock's API request enqueued the ticks; the renewal's provider call carries its request id and
    # names the invoice and subscription it charged.
    clock_request = moved.headers["X-Request-ID"]
    calls = [line for process, line in structured
             if process == "worker" and "payments/tokens/charge" in line["message"]]
    assert calls and all(line.get("request_id") == clock_request for line in calls)
    assert all(line.get("invoice_id") and line.get("subscription_id") for line in calls)
