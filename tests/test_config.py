"""Start-up configuration: a configured deployment names every secret it runs on, the embedded default
makes its own session key, and the mounted sandbox's inspection and controls answer loopback only."""
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from portal import create_app
from portal.sandbox import create_app as create_sandbox

ROOT = Path(__file__).resolve().parents[1]
FLASK = Path(sys.executable).with_name("flask")
# A deployment on the sandbox provider with every setting it needs (the database is never reached:
# `flask routes` only builds the app).
CONFIGURED = {
    "DATABASE_URL": "postgresql://billing@db.invalid/billing", "SECRET_KEY": "a-deployment-secret",
    "PAYMENT_PROVIDER": "sandbox", "CLOUDPAYMENTS_PUBLIC_ID": "pk_deployment",
    "CLOUDPAYMENTS_API_SECRET": "deployment-api-secret", "SANDBOX_URL": "http://127.0.0.1:8001",
    "TRUSTED_HOSTS": "billing.example.com",
    "SMTP_URL": "smtp+starttls://billing:pa%40ss@mail.invalid:587", "MAIL_FROM": "Cinema <billing@cinema.example>",
    "PUBLIC_URL": "https://cinema.example",
    "METRICS_TOKEN": "a-deployment-metrics-token",
}
SETTINGS = (*CONFIGURED, "TOKEN_ENCRYPTION_KEY", "REDIS_URL", "AMQP_URL", "CLOUDPAYMENTS_API_URL", "PAYMENT_PROVIDERS",
            "YOOKASSA_SHOP_ID", "YOOKASSA_SECRET_KEY")
EMBEDDED_CONSTANT = "embedded-development-key"  # the key every embedded portal once signed sessions with


def start_flask(**settings):
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    env.update({k: v for k, v in settings.items() if v is not None})
    return subprocess.run([str(FLASK), "--app", "wsgi", "routes"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_a_fully_configured_deployment_starts():
    done = start_flask(**CONFIGURED)
    assert done.returncode == 0, done.stderr
    assert "/webhooks/cloudpayments" in done.stdout


@pytest.mark.parametrize("missing", [name for name in CONFIGURED if name != "DATABASE_URL"])
def test_a_deployment_missing_a_setting_refuses_to_start_naming_it(missing):
    done = start_flask(**{**CONFIGURED, missing: None})
    assert done.returncode != 0
    assert f"{missing} must be set" in done.stderr


def test_the_real_provider_needs_its_credentials_but_no_sandbox_url():
    real = {**CONFIGURED, "PAYMENT_PROVIDER": "cloudpayments", "SANDBOX_URL": None}
    assert start_flask(**real).returncode == 0
    done = start_flask(**{**real, "CLOUDPAYMENTS_API_SECRET": ""})  # set but empty is missing too
    assert done.returncode != 0 and "CLOUDPAYMENTS_API_SECRET must be set" in done.stderr


@pytest.mark.parametrize("missing", ["YOOKASSA_SHOP_ID", "YOOKASSA_SECRET_KEY"])
def test_yookassa_enabled_beside_cloudpayments_needs_its_own_secrets(missing):
    both = {**CONFIGURED, "PAYMENT_PROVIDERS": "sandbox,yookassa", "YOOKASSA_SHOP_ID": "100500",
            "YOOKASSA_SECRET_KEY": "live_deployment-secret"}
    started = start_flask(**both)
    assert started.returncode == 0, started.stderr
    assert "/webhooks/cloudpayments/<kind>" in started.stdout and "/webhooks/<provider>" in started.stdout
    done = start_flask(**{**both, missing: None})
    assert done.returncode != 0 and f"{missing} must be set" in done.stderr


@pytest.mark.parametrize(("name", "value"), [("PAYMENT_PROVIDER", "stripe"), ("TOKEN_ENCRYPTION_KEY", "short"),
                                            ("SMTP_URL", "http://mail.example"), ("SMTP_URL", "smtp://:25"),
                                            ("PUBLIC_URL", "cinema.example")])
def test_a_setting_that_cannot_work_refuses_to_start_naming_it(name, value):
    done = start_flask(**{**CONFIGURED, name: value})
    assert done.returncode != 0 and name in done.stderr


@pytest.fixture
def embedded_environment(monkeypatch, tmp_path):
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTAL_INSTANCE", str(tmp_path))
    return tmp_path


def test_the_embedded_default_makes_one_random_session_key_and_keeps_it(embedded_environment, monkeypatch):
    first, second = create_app(), create_app()
    assert first.config["EMBEDDED"] and second.config["EMBEDDED"]
    assert first.secret_key == second.secret_key
    assert first.secret_key != EMBEDDED_CONSTANT and len(first.secret_key) >= 32
    kept = embedded_environment / "secret_key"
    assert kept.read_text().strip() == first.secret_key
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    other_instance = embedded_environment / "other"
    monkeypatch.setenv("PORTAL_INSTANCE", str(other_instance))
    assert create_app().secret_key != first.secret_key  # another instance folder, another key


SANDBOX_CONTROLS = [("GET", "/notifications"), ("GET", "/transactions"), ("POST", "/control"),
                    ("POST", "/control/reset")]


@pytest.mark.parametrize(("method", "path"), SANDBOX_CONTROLS)
def test_the_mounted_sandbox_controls_answer_only_loopback_clients(embedded_environment, method, path):
    client = create_app({"TESTING": True}).test_client()
    url = f"/sandbox/cloudpayments{path}"
    body = {"json": {"merchant_url": "http://attacker.invalid"}} if path == "/control" else {}
    refused = client.open(url, method=method, environ_base={"REMOTE_ADDR": "10.1.2.3"}, **body)
    assert refused.status_code == 403
    assert "loopback" in refused.get_json()["error"]
    settings = client.get("/sandbox/cloudpayments/control", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert settings.status_code == 200
    assert settings.get_json()["merchant_url"] != "http://attacker.invalid"  # the refused write did nothing
    assert client.open(url, method=method, environ_base={"REMOTE_ADDR": "::1"}, **body).status_code == 200


def test_the_mounted_sandbox_widget_and_index_stay_open_to_everyone(embedded_environment):
    client = create_app({"TESTING": True}).test_client()
    outside = {"REMOTE_ADDR": "10.1.2.3"}
    assert client.get("/sandbox/cloudpayments/", environ_base=outside).status_code == 200
    assert client.get("/sandbox/cloudpayments/widget.js", environ_base=outside).status_code == 200


def test_the_mounted_sandbox_behind_a_proxy_judges_the_forwarded_client(embedded_environment):
    client = create_app({"TESTING": True, "PROXY_HOPS": 1}).test_client()
    forwarded = client.get("/sandbox/cloudpayments/transactions", headers={"X-Forwarded-For": "10.1.2.3"},
                           environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert forwarded.status_code == 403


def test_the_standalone_sandbox_is_loopback_only_unless_opened():
    outside = {"REMOTE_ADDR": "10.1.2.3"}
    closed = create_sandbox({"SANDBOX_CONTROL_FROM_ANYWHERE": "0"}).test_client()
    assert closed.get("/transactions", environ_base=outside).status_code == 403
    assert closed.get("/transactions").status_code == 200  # the test client's address is 127.0.0.1
    opened = create_sandbox({"SANDBOX_CONTROL_FROM_ANYWHERE": "1"}).test_client()
    assert opened.get("/transactions", environ_base=outside).status_code == 200
