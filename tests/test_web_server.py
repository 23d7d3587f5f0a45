"""The Procfile's `web` process: gunicorn with portal/web_server.py, configured through the environment."""
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.test_embedded_default import free_port

ROOT = Path(__file__).resolve().parents[1]


def procfile_command(process):
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return command.strip()
    raise AssertionError(f"the Procfile has no {process} process")


def gunicorn_workers(master_pid):
    children = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == master_pid:
            children.append(int(pid))
    return children


@contextmanager
def web_process(app, tmp_path, **env_overrides):
    """The Procfile's web process against the test database, serving on a free port: yields its base URL
    and its log file, once /healthz answers."""
    port = free_port()
    env = {**os.environ, "PORT": str(port), "WEB_CONCURRENCY": "3",
           "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": app.config["REDIS_URL"],
           "SECRET_KEY": app.config["SECRET_KEY"], "PAYMENT_PROVIDER": "sandbox",
           "SANDBOX_URL": "http://127.0.0.1:9", "CLOUDPAYMENTS_PUBLIC_ID": app.config["CLOUDPAYMENTS_PUBLIC_ID"],
           "CLOUDPAYMENTS_API_SECRET": app.config["CLOUDPAYMENTS_API_SECRET"], "TRUSTED_HOSTS": "127.0.0.1",
           "SMTP_URL": app.config["SMTP_URL"], "MAIL_FROM": app.config["MAIL_FROM"],
           "PUBLIC_URL": app.config["PUBLIC_URL"],
           "METRICS_TOKEN": "test-metrics-token",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", **env_overrides}
    log = (tmp_path / "web.log").open("w+")
    web = subprocess.Popen(["sh", "-c", f"exec {procfile_command('web')}"], cwd=ROOT, env=env, stdout=log,
                           stderr=subprocess.STDOUT, start_new_session=True)
    try:
        answer, deadline = None, time.monotonic() + 30
        while answer is None and time.monotonic() < deadline and web.poll() is None:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or a worker still booting
                time.sleep(0.2)
        log.seek(0)
        assert answer is not None and answer.json() == {"status": "ok"}, log.read()
        yield f"http://127.0.0.1:{port}", log, web, answer
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=20)


def test_the_web_process_serves_on_port_with_web_concurrency_workers(app, tmp_path):
    with web_process(app, tmp_path) as (_, _, web, answer):
        assert answer.headers["Server"] == "gunicorn"  # no version for a scanner to match against advisories
        deadline = time.monotonic() + 10
        while len(gunicorn_workers(web.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(gunicorn_workers(web.pid)) == 3


def test_the_access_log_leaves_out_query_strings_where_get_notifications_carry_the_card_token(app, tmp_path):
    with web_process(app, tmp_path, GUNICORN_CMD_ARGS="--access-logfile -") as (url, log, _, _):
        answer = requests.get(f"{url}/webhooks/cloudpayments/pay?TransactionId=1&Amount=1.00&Token=tk_secret_1",
                              timeout=10)
        assert answer.status_code == 401
        # The app's own JSON line for the request is written before gunicorn's access line: wait for the latter.
        access_line, deadline = '"GET /webhooks/cloudpayments/pay HTTP/1.1" 401', time.monotonic() + 10
        while access_line not in (tmp_path / "web.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        written = (tmp_path / "web.log").read_text()
    assert access_line in written
    assert "tk_secret_1" not in written and "TransactionId" not in written


def test_without_web_concurrency_there_are_two_workers_per_core_and_one(monkeypatch):
    import importlib

    import portal.web_server

    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    settings = importlib.reload(portal.web_server)
    assert settings.workers == 2 * os.cpu_count() + 1
    assert settings.bind == "0.0.0.0:8000"
