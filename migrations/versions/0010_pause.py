"""Pausing a subscription: a `paused` status, and when a pause asked for starts (the period end) and ends.

Revision ID: 0010
Revises: 0005
Create Date: 2026-12-06 23:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0005'
branch_labels = None
depends_on = None

STATUSES = "'pending', 'trialing', 'active', 'past_due', 'canceled', 'expired'"


def upgrade():
    with op.batch_alter_table('subscriptions') as batch:
        batch.add_column(sa.Column('pause_starts_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('resumes_at', sa.DateTime(timezone=True), nullable=True))
        batch.drop_constraint('status', type_='check')
        batch.create_check_constraint('status', f"status IN ({STATUSES}, 'paused')")


def downgrade():
    # Without pauses, a paused subscription is one that ended with its last paid period.
    op.execute("UPDATE subscriptions SET status = 'expired', ended_at = current_period_end WHERE status = 'paused'")
    with op.batch_alter_table('subscriptions') as batch:
        batch.drop_constraint('status', type_='check')
        batch.create_check_constraint('status', f"status IN ({STATUSES})")
        batch.drop_column('resumes_at')
        batch.drop_column('pause_starts_at')
