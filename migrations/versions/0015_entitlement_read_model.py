"""The entitlement read model: one row per customer with what GET entitlement answers, filled from the
subscriptions as they are (portal/models/entitlement.py keeps it from here on).

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-07 02:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0013'
branch_labels = None
depends_on = None

LIVE = "'trialing', 'active', 'past_due', 'paused'"


def upgrade():
    op.create_table(
        'entitlements',
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('external_id', sa.String(length=128), nullable=True),
        sa.Column('subscription_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=True),
        sa.Column('plan_code', sa.String(length=64), nullable=True),
        sa.Column('until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['users.id'], name=op.f('fk_entitlements_customer_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_entitlements')),
    )
    op.create_index('ix_entitlements_external_id', 'entitlements', ['external_id'], unique=False)
    # The same choice as the application's (the live subscription with the latest period end).
    op.execute(f"""
        INSERT INTO entitlements (customer_id, external_id, subscription_id, status, plan_code, until, updated_at)
        SELECT u.id, u.external_id, s.id, s.status, p.code, s.current_period_end, CURRENT_TIMESTAMP
        FROM users u
        LEFT JOIN subscriptions s ON s.id = (
            SELECT s2.id FROM subscriptions s2 WHERE s2.customer_id = u.id AND s2.status IN ({LIVE})
            ORDER BY s2.current_period_end DESC NULLS LAST, s2.id DESC LIMIT 1)
        LEFT JOIN plans p ON p.id = s.plan_id
        WHERE true
    """)


def downgrade():
    op.drop_index('ix_entitlements_external_id', table_name='entitlements')
    op.drop_table('entitlements')
