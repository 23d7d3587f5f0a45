"""Fixtures for the whole suite: a PostgreSQL database of its own brought to head by the migrations,
Redis and RabbitMQ on real connections, and a clean slate for every test."""
import os
import re
import threading
import uuid
from types import SimpleNamespace

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from werkzeug.serving import make_server

from portal import clock, create_app
from portal.extensions import db
from portal.providers import forget_providers
from tests import isolation
from tests.mailbox import Mailbox

BASE_DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# A program that runs the suite and may have to kill it (the mutation run, tests/mutation) names the run, so it
# can give back what a killed run took: the database portal_test_<tag>, the Redis claim and the vhost carry it.
RUN_TAG = os.environ.get("PORTAL_TEST_RUN_TAG") or uuid.uuid4().hex[:12]
if not re.fullmatch(r"[a-z0-9_]{1,32}", RUN_TAG):
    raise RuntimeError(f"PORTAL_TEST_RUN_TAG {RUN_TAG!r} is not 1 to 32 of a-z, 0-9 and _")
# `make test` spreads the suite over pytest-xdist workers (gw0, gw1, ...), each a process of its own with a
# database, Redis claim, vhost and SMTP server of its own: the worker's name keeps a given tag apart per worker.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if XDIST_WORKER and os.environ.get("PORTAL_TEST_RUN_TAG"):
    RUN_TAG = f"{RUN_TAG[:27]}_{XDIST_WORKER}"
RUN_ID = f"portal-tests-{RUN_TAG}"
REDIS_SERVER = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0]
SANDBOX_PUBLIC_ID = "pk_portal_tests"
SANDBOX_SECRET = "portal-tests-secret"
YOOKASSA_SHOP_ID = "100777"
YOOKASSA_SECRET = "test_portal-tests-secret"
AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def _admin_dsn(url):
    u = make_url(url).set(drivername="postgresql", database="postgres")
    return u.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url():
    """A fresh database for this run, migrated to head with the project's own migrations. A program running
    the suite many times over (the mutation run) may hand it an empty database of its own instead
    (PORTAL_TEST_DATABASE), which it made and drops: creating and dropping one costs seconds a run."""
    given = os.environ.get("PORTAL_TEST_DATABASE")
    if given and XDIST_WORKER:
        raise RuntimeError("PORTAL_TEST_DATABASE is one database: run it without pytest-xdist workers (-n 0)")
    if given:
        if not re.fullmatch(r"portal_test_[a-z0-9_]{1,40}", given):
            raise RuntimeError(f"PORTAL_TEST_DATABASE {given!r} is not portal_test_ and 1 to 40 of a-z, 0-9, _")
        yield make_url(BASE_DATABASE_URL).set(drivername="postgresql+psycopg", database=given).render_as_string(
            hide_password=False)
        return
    name = f"portal_test_{RUN_TAG}"
    with psycopg.connect(_admin_dsn(BASE_DATABASE_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(BASE_DATABASE_URL).set(drivername="postgresql+psycopg", database=name)
    rendered = url.render_as_string(hide_password=False)
    yield rendered
    with psycopg.connect(_admin_dsn(BASE_DATABASE_URL), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url():
    """A Redis database of this run's own, found empty and claimed (never 0, a developer's): two runs on
    one machine, or a deployment sharing the server, never lose a key to this one."""
    url = isolation.claim_redis_database(REDIS_SERVER, RUN_ID, seconds=3 * 3600)
    yield url
    isolation.release_redis_database(url, RUN_ID, empty=True)


@pytest.fixture(scope="session")
def amqp_url():
    """A RabbitMQ vhost of this run's own where the broker is local and rabbitmqctl may add one; else
    AMQP_URL's vhost, where every test declares exchanges and queues under names of its own."""
    vhost = RUN_ID.replace("-", "_")
    url = isolation.add_vhost(AMQP_URL, vhost)
    yield url or AMQP_URL
    if url:
        isolation.delete_vhost(vhost)


@pytest.fixture(scope="session")
def smtp_server():
    """The run's SMTP server (aiosmtpd, in this process): the portal sends over real SMTP to it."""
    server = Mailbox().start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(smtp_server, app):
    """The test SMTP server's mailbox, empty at the start of the test."""
    smtp_server.clear()
    yield smtp_server
    smtp_server.clear()


@pytest.fixture(scope="session")
def test_config(database_url, redis_url, amqp_url, smtp_server):
    return {
        "TESTING": True,
        "EMBEDDED": False,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "AMQP_URL": amqp_url,
        "SECRET_KEY": "test-secret-key",
        "MOUNT_SANDBOX": False,
        "PAYMENT_PROVIDER": "sandbox",
        # Both providers, CloudPayments' sandbox the default of every currency (a test may choose YooKassa).
        "PAYMENT_PROVIDERS": "sandbox,yookassa",
        "SANDBOX_URL": "http://127.0.0.1:9",  # nothing listens there; the `live` fixture sets the real one
        "YOOKASSA_SHOP_ID": YOOKASSA_SHOP_ID,
        "YOOKASSA_SECRET_KEY": YOOKASSA_SECRET,
        "YOOKASSA_API_URL": "http://127.0.0.1:9/v3",  # the `live` fixture sets the YooKassa sandbox's
        "YOOKASSA_WIDGET_URL": "http://127.0.0.1:9/widget.js",
        "YOOKASSA_TRUSTED_NETWORKS": "127.0.0.0/8",  # the sandbox posts from loopback
        "CLOUDPAYMENTS_PUBLIC_ID": SANDBOX_PUBLIC_ID,
        "CLOUDPAYMENTS_API_SECRET": SANDBOX_SECRET,
        "API_TOKENS": "",
        # The test client's host and the live servers' address.
        "TRUSTED_HOSTS": ["localhost", "127.0.0.1"],
        "SMTP_URL": smtp_server.url,
        "MAIL_FROM": "Cinema <billing@cinema.test>",
        "PUBLIC_URL": "http://portal.test",  # the `live` fixture sets the served address
        "METRICS_TOKEN": "test-metrics-token",
    }


@pytest.fixture(scope="session")
def migrated_app(test_config):
    from flask_migrate import upgrade

    app = create_app(test_config)
    with app.app_context():
        upgrade()
    return app


@pytest.fixture(scope="session")
def live(migrated_app):
    """The portal and both providers' sandboxes served over real HTTP, each on its own port, wired to
    each other: the portal calls the sandboxes' APIs, the sandboxes post notifications to the portal."""
    from portal.sandbox import create_app as create_sandbox
    from portal.sandbox.yookassa import create_app as create_yookassa_sandbox

    portal_server = make_server("127.0.0.1", 0, migrated_app, threaded=True)
    portal_url = f"http://127.0.0.1:{portal_server.server_port}"
    sandbox_app = create_sandbox({
        "CLOUDPAYMENTS_PUBLIC_ID": SANDBOX_PUBLIC_ID, "CLOUDPAYMENTS_API_SECRET": SANDBOX_SECRET,
        "SANDBOX_MERCHANT_URL": portal_url, "SANDBOX_NOTIFY_SCHEDULE": "0.5,1,2",
    })
    sandbox_server = make_server("127.0.0.1", 0, sandbox_app, threaded=True)
    sandbox_url = f"http://127.0.0.1:{sandbox_server.server_port}"
    yookassa_app = create_yookassa_sandbox({
        "YOOKASSA_SHOP_ID": YOOKASSA_SHOP_ID, "YOOKASSA_SECRET_KEY": YOOKASSA_SECRET,
        "SANDBOX_MERCHANT_URL": portal_url, "SANDBOX_NOTIFY_SCHEDULE": "0.5,1,2", "SANDBOX_NOTIFY_TIMEOUT": 10,
    })
    yookassa_server = make_server("127.0.0.1", 0, yookassa_app, threaded=True)
    yookassa_url = f"http://127.0.0.1:{yookassa_server.server_port}"
    for server in (portal_server, sandbox_server, yookassa_server):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    migrated_app.config["SANDBOX_URL"] = sandbox_url
    migrated_app.config["YOOKASSA_API_URL"] = f"{yookassa_url}/v3"
    migrated_app.config["YOOKASSA_WIDGET_URL"] = f"{yookassa_url}/widget.js"
    migrated_app.config["PUBLIC_URL"] = portal_url  # the links in mails open the served portal
    forget_providers(migrated_app)
    yield SimpleNamespace(portal_url=portal_url, sandbox_url=sandbox_url, yookassa_url=yookassa_url,
                          yookassa_app=yookassa_app)
    portal_server.shutdown()
    sandbox_server.shutdown()
    yookassa_server.shutdown()
    yookassa_app.extensions["yookassa_sandbox"].shutdown()


@pytest.fixture
def app(migrated_app):
    """The app with a clean slate: every table emptied and sequences restarted, the test Redis database
    flushed, the clock back to real time."""
    with migrated_app.app_context():
        yield migrated_app
        db.session.rollback()
        db.session.remove()
        _empty_tables()
    isolation.empty_redis_database(migrated_app.config["REDIS_URL"], RUN_ID)
    clock.reset()


def _empty_tables(attempts=3):
    """TRUNCATE locks every table; a request still running in a background thread (a late provider
    notification to the live server) may hold one and wait for another: PostgreSQL then picks one of the
    two to fail. When that is the TRUNCATE, it goes again once the other has finished."""
    tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    for attempt in range(attempts):
        try:
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            return
        except OperationalError as error:
            if not isinstance(error.orig, psycopg.errors.DeadlockDetected) or attempt == attempts - 1:
                raise


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
