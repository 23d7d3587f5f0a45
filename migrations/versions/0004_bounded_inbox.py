"""Bounded inbox: a refused notification keeps a prefix, its length and SHA-256, and refusals from one
address for one reason within a minute share a counted row (issue 13, finding 1). Provider bodies are
encrypted at rest with the card-token key: webhook_events.body and payments.raw (JSONB → text), since
both carry the card token (finding 3).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 22:40:00

"""
import hashlib

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from portal.models.types import seal, unseal

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# What is kept of a refused post (portal.billing.notifications.REJECTED_BODY_PREFIX).
PREFIX = 2 * 1024


def upgrade():
    with op.batch_alter_table('webhook_events') as batch:
        batch.add_column(sa.Column('body_length', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('body_sha256', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('rejected_count', sa.Integer(), server_default='1', nullable=False))
        batch.add_column(sa.Column('rejection_window', sa.DateTime(timezone=True), nullable=True))
    _bound_rejected_bodies()
    with op.batch_alter_table('payments') as batch:
        batch.alter_column('raw', type_=sa.Text(), existing_nullable=True, postgresql_using='raw::text')
    _rewrite('webhook_events', 'body', seal)
    _rewrite('payments', 'raw', lambda text: seal(text.encode()).decode('ascii'))
    op.create_index('uq_webhook_events_rejections', 'webhook_events',
                    ['provider', 'kind', 'remote_addr', 'rejection', 'rejection_window'], unique=True,
                    postgresql_where=sa.text("status = 'rejected'"), sqlite_where=sa.text("status = 'rejected'"))


def _bound_rejected_bodies():
    # Refused posts stored whole before this revision (up to 50 MB each): cut to the prefix, measured.
    connection = op.get_bind()
    events = sa.table('webhook_events', sa.column('id'), sa.column('status'), sa.column('body'),
                      sa.column('body_length'), sa.column('body_sha256'))
    ids = connection.execute(sa.select(events.c.id).where(events.c.status == 'rejected')).scalars().all()
    for event_id in ids:
        body = connection.execute(sa.select(events.c.body).where(events.c.id == event_id)).scalar() or b""
        connection.execute(events.update().where(events.c.id == event_id).values(
            body=body[:PREFIX], body_length=len(body),
            body_sha256=hashlib.sha256(body).hexdigest() if body else None))


def _rewrite(table_name, column, change):
    """Every stored value of a column through `change`, row by row (runs with the app's key)."""
    connection = op.get_bind()
    table = sa.table(table_name, sa.column('id'), sa.column(column))
    ids = connection.execute(sa.select(table.c.id).where(table.c[column].is_not(None))).scalars().all()
    for row_id in ids:
        value = connection.execute(sa.select(table.c[column]).where(table.c.id == row_id)).scalar()
        connection.execute(table.update().where(table.c.id == row_id).values({column: change(value)}))


def downgrade():
    _rewrite('payments', 'raw', lambda text: unseal(text.encode('ascii')).decode())
    _rewrite('webhook_events', 'body', unseal)
    with op.batch_alter_table('payments') as batch:
        batch.alter_column('raw', type_=sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                           existing_nullable=True, postgresql_using='raw::jsonb')
    op.drop_index('uq_webhook_events_rejections', table_name='webhook_events')
    with op.batch_alter_table('webhook_events') as batch:
        batch.drop_column('rejection_window')
        batch.drop_column('rejected_count')
        batch.drop_column('body_sha256')
        batch.drop_column('body_length')
