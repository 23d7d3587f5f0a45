"""Fixtures for the whole suite: a PostgreSQL database of its own brought to head by the migrations,
Redis and RabbitMQ on real connections, and a clean slate for every test."""
import os
import uuid

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from portal import clock, create_app
from portal.extensions import db

BASE_DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def _admin_dsn(url):
    u = make_url(url).set(drivername="postgresql", database="postgres")
    return u.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url():
    """A fresh database for this run, migrated to head with the project's own migrations."""
    name = f"portal_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_admin_dsn(BASE_DATABASE_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(BASE_DATABASE_URL).set(drivername="postgresql+psycopg", database=name)
    rendered = url.render_as_string(hide_password=False)
    yield rendered
    with psycopg.connect(_admin_dsn(BASE_DATABASE_URL), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def test_config(database_url):
    return {
        "TESTING": True,
        "EMBEDDED": False,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": REDIS_URL,
        "AMQP_URL": AMQP_URL,
        "SECRET_KEY": "test-secret-key",
        "MOUNT_SANDBOX": False,
    }


@pytest.fixture(scope="session")
def migrated_app(test_config):
    from flask_migrate import upgrade

    app = create_app(test_config)
    with app.app_context():
        upgrade()
    return app


@pytest.fixture
def app(migrated_app):
    """The app with a clean database: every table emptied and sequences restarted after each test."""
    with migrated_app.app_context():
        yield migrated_app
        db.session.rollback()
        db.session.remove()
        tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    clock.reset()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
