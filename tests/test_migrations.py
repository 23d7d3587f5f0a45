"""The migrations are the schema: a database brought to head matches the models exactly."""
from contextlib import contextmanager

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from portal.extensions import db


def test_models_and_migrations_agree(app):
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert differences == [], "models changed without a migration (flask db migrate):\n" + "\n".join(
        map(str, differences))


@contextmanager
def scratch_app(test_config, database_url):
    """The app on a database of its own (created empty, dropped afterwards), inside its app context."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    from portal import create_app

    name = f"portal_migrate_{uuid.uuid4().hex[:8]}"
    admin = make_url(database_url).set(drivername="postgresql", database="postgres").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(database_url).set(database=name).render_as_string(False)
        scratch = create_app({**test_config, "SQLALCHEMY_DATABASE_URI": url})
        with scratch.app_context():
            yield scratch
            db.session.remove()
            db.engine.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrations_downgrade_and_upgrade_cleanly(test_config, database_url):
    """Down to nothing and back up, on a database of its own."""
    from flask_migrate import downgrade, upgrade

    with scratch_app(test_config, database_url):
        upgrade()
        downgrade(revision="base")
        upgrade()
        tables = set(db.inspect(db.engine).get_table_names())
    assert {"subscriptions", "invoices", "payments", "refunds", "transitions", "outbox", "webhook_events",
            "bus_inbox", "idempotency_keys", "staff_audit_log", "plans", "users", "payment_methods"} <= tables


def test_the_bounded_inbox_migration_encrypts_stored_bodies_and_cuts_refused_ones_and_undoes_it(test_config,
                                                                                                database_url):
    from alembic.script import ScriptDirectory
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from portal.models import Payment, WebhookEvent

    with scratch_app(test_config, database_url) as scratch:
        before = ScriptDirectory.from_config(scratch.extensions["migrate"].migrate.get_config()).get_revision(
            "0004").down_revision
        upgrade(revision=before)
        token, refused = "tk_stored_before", b"x=" + b"r" * 100_000
        db.session.execute(text(
            "INSERT INTO webhook_events (provider, kind, transaction_id, status, attempts, body, received_at) VALUES "
            "('sandbox', 'pay', '1', 'processed', 1, :stored, now()), "
            "('sandbox', 'pay', NULL, 'rejected', 0, :refused, now())"),
            {"stored": f"TransactionId=1&Token={token}".encode(), "refused": refused})
        db.session.execute(text(
            "INSERT INTO payments (provider, provider_transaction_id, amount, currency, amount_refunded, status, "
            "test_mode, needs_review, raw, created_at) VALUES ('sandbox', '1', 100, 'RUB', 0, 'completed', true, "
            "false, CAST(:raw AS jsonb), now())"), {"raw": f'{{"Token": "{token}"}}'})
        db.session.commit()

        upgrade(revision="0004")
        dump = " ".join(str(v) for v in db.session.execute(text(
            "SELECT encode(body, 'escape') FROM webhook_events UNION ALL SELECT raw FROM payments")).scalars())
        assert token not in dump
        stored, cut = db.session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).all()
        assert stored.body == f"TransactionId=1&Token={token}".encode()
        assert (len(cut.body), cut.body_length) == (2048, len(refused)) and cut.body == refused[:2048]
        assert db.session.scalars(select(Payment.raw)).one() == {"Token": token}  # columns of 0004 only
        db.session.remove()

        downgrade(revision=before)
        assert db.session.execute(text("SELECT raw ->> 'Token' FROM payments")).scalar() == token
        assert bytes(db.session.execute(text("SELECT body FROM webhook_events ORDER BY id")).scalars().first()) == (
            f"TransactionId=1&Token={token}".encode())
