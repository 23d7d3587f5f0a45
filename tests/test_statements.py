"""Statements on the hot paths run without the pool's pre-ping: what that must not cost."""
import os

import psycopg
import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from portal import clock
from portal.extensions import db
from portal.models import User, WebhookEvent
from portal.statements import AutocommitStatement, _engine
from tests.conftest import _admin_dsn
from tests.factories import make_customer

CUSTOMER_BY_EXTERNAL_ID = AutocommitStatement(
    select(User.id, User.email).where(User.external_id == bindparam("external_id")))
STORE_EVENT = AutocommitStatement(
    insert(WebhookEvent.__table__)
    .values(provider="sandbox", kind="pay", status="received", attempts=0,
            body=bindparam("body", b"TransactionId=1&Token=tk_not_for_logs"),
            transaction_id=bindparam("transaction_id"), received_at=bindparam("received_at"))
    .returning(WebhookEvent.id))


def several_pooled_connections_ran(statement: AutocommitStatement, **params):
    """The statements' pool holding three idle connections that each ran `statement`, as after a busy minute."""
    held = [_engine(db.engine.url, os.getpid()).raw_connection() for _ in range(3)]
    for pooled in held:
        pooled.driver_connection.execute(statement.statement.compile(dialect=db.engine.dialect).string,
                                         {**statement.statement.compile().params, **params}).fetchone()
    for pooled in held:
        pooled.close()


def drop_connections_that_ran(app, *statement_starts):
    """What a database restart does to idle pooled connections, done to those whose last statement began
    with one of `statement_starts`."""
    with psycopg.connect(_admin_dsn(app.config["SQLALCHEMY_DATABASE_URI"]), autocommit=True) as admin:
        dropped = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s AND query LIKE ANY(%s)",
            (db.engine.url.database, [start + "%" for start in statement_starts])).fetchone()[0]
    assert dropped >= 3


def test_a_read_on_a_connection_the_server_dropped_is_answered_from_a_new_one(app):
    customer = make_customer(email="kept@example.com", external_id="ext-kept")
    db.session.commit()
    several_pooled_connections_ran(CUSTOMER_BY_EXTERNAL_ID, external_id="ext-kept")

    drop_connections_that_ran(app, "SELECT users.id, users.email")

    assert CUSTOMER_BY_EXTERNAL_ID.first(external_id="ext-kept") == (customer.id, "kept@example.com")
    assert CUSTOMER_BY_EXTERNAL_ID.first(external_id="nobody") is None


def test_an_insert_after_the_server_dropped_the_connection_is_stored_once(app):
    (first_id,) = STORE_EVENT.first(transaction_id="tx-1", received_at=clock.now())
    several_pooled_connections_ran(CUSTOMER_BY_EXTERNAL_ID, external_id="nobody")
    drop_connections_that_ran(app, "INSERT INTO webhook_events", "SELECT users.id, users.email")

    (second_id,) = STORE_EVENT.first(transaction_id="tx-2", received_at=clock.now())

    stored = db.session.execute(select(WebhookEvent.id, WebhookEvent.transaction_id).order_by(WebhookEvent.id)).all()
    assert stored == [(first_id, "tx-1"), (second_id, "tx-2")]


def test_a_duplicate_key_is_sqlalchemys_integrity_error_without_the_values_and_stores_nothing(app):
    STORE_EVENT.first(transaction_id="tx-1", received_at=clock.now())

    with pytest.raises(IntegrityError) as raised:
        STORE_EVENT.first(transaction_id="tx-1", received_at=clock.now())

    assert "tk_not_for_logs" not in str(raised.value)  # a body carries the card token: never in a message

    assert db.session.scalar(select(db.func.count()).select_from(WebhookEvent)) == 1
