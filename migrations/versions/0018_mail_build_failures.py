"""Mails that could not be built: a build-failure record in outgoing_mails names the outbox event it stands
for (outgoing_mails.event_id), so its build is retried with backoff and staff can see and rebuild it.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 10:50:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outgoing_mails') as batch:
        batch.add_column(sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))


def downgrade():
    with op.batch_alter_table('outgoing_mails') as batch:
        batch.drop_column('event_id')
