"""Anchored billing periods: each subscription keeps the start of its first paid period, and every later
period end is counted from it (portal/billing/periods.py), so 31 January renews on 28 February and then on
31 March, not on the 28th for good. Existing rows get the start of their first paid period (a trial's end
where there is one), else their current period's start.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 23:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('subscriptions', sa.Column('billing_anchor', sa.DateTime(timezone=True), nullable=True))
    op.execute("""
        UPDATE subscriptions SET billing_anchor = COALESCE(
            trial_end,
            (SELECT min(invoices.period_start) FROM invoices
              WHERE invoices.subscription_id = subscriptions.id AND invoices.status = 'paid'),
            current_period_start)
    """)


def downgrade():
    op.drop_column('subscriptions', 'billing_anchor')
