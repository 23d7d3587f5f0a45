"""Plan changes: a `proration` invoice kind (the prorated price of an upgrade) naming the plan its payment
moves the subscription to, and the plan a subscription moves to at its period end (a scheduled downgrade).

Revision ID: 0008
Revises: 0010
Create Date: 2026-12-06 23:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0010'
branch_labels = None
depends_on = None

# 0009 added card_check before this migration runs.
KINDS = "'initial', 'renewal', 'repay', 'grant', 'verification', 'card_check'"


def upgrade():
    with op.batch_alter_table('invoices') as batch:
        batch.drop_constraint(op.f('ck_invoices_kind'), type_='check')
        batch.create_check_constraint(op.f('ck_invoices_kind'), f"kind IN ({KINDS}, 'proration')")
        batch.add_column(sa.Column('plan_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f('fk_invoices_plan_id_plans'), 'plans', ['plan_id'], ['id'])
    with op.batch_alter_table('subscriptions') as batch:
        batch.add_column(sa.Column('scheduled_plan_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f('fk_subscriptions_scheduled_plan_id_plans'), 'plans', ['scheduled_plan_id'], ['id'])


def downgrade():
    with op.batch_alter_table('subscriptions') as batch:
        batch.drop_constraint(op.f('fk_subscriptions_scheduled_plan_id_plans'), type_='foreignkey')
        batch.drop_column('scheduled_plan_id')
    # Paid upgrades stay in the books as what they were before this kind existed: an extra charge.
    op.execute("UPDATE invoices SET kind = 'repay' WHERE kind = 'proration'")
    with op.batch_alter_table('invoices') as batch:
        batch.drop_constraint(op.f('fk_invoices_plan_id_plans'), type_='foreignkey')
        batch.drop_column('plan_id')
        batch.drop_constraint(op.f('ck_invoices_kind'), type_='check')
        batch.create_check_constraint(op.f('ck_invoices_kind'), f"kind IN ({KINDS})")
