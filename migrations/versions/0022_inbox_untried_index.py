"""The inbox's drains claim the oldest never-tried notifications from an index of those alone, in id order: a
claim reads the hundred rows it takes instead of every row of a backlog to sort them (bench/README.md, item 2).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-08 05:15:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

UNTRIED = "status = 'received' AND attempts = 0"


def upgrade():
    op.create_index('ix_webhook_events_untried', 'webhook_events', ['id'], postgresql_where=sa.text(UNTRIED),
                    sqlite_where=sa.text(UNTRIED))


def downgrade():
    op.drop_index('ix_webhook_events_untried', table_name='webhook_events')
