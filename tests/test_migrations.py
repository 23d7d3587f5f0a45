"""The migrations are the schema: a database brought to head matches the models exactly."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from portal.extensions import db


def test_models_and_migrations_agree(app):
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert differences == [], "models changed without a migration (flask db migrate):\n" + "\n".join(
        map(str, differences))


def test_migrations_downgrade_and_upgrade_cleanly(test_config, database_url):
    """Down to nothing and back up, on a database of its own."""
    import uuid

    import psycopg
    from flask_migrate import downgrade, upgrade
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
            upgrade()
            downgrade(revision="base")
            upgrade()
            tables = set(db.inspect(db.engine).get_table_names())
            db.engine.dispose()
        assert {"subscriptions", "invoices", "payments", "refunds", "transitions", "outbox", "webhook_events",
                "bus_inbox", "idempotency_keys", "staff_audit_log", "plans", "users", "payment_methods"} <= tables
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
