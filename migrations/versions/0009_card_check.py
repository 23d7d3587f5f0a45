"""Replacing the card of a live subscription: a `card_check` invoice, the small authorisation that proves the
new card (voided at once, never captured), beside the trial's `verification`.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-06 23:20:00

"""
from alembic import op

revision = '0009'
down_revision = '0007'
branch_labels = None
depends_on = None

KINDS = "'initial', 'renewal', 'repay', 'grant', 'verification'"


def upgrade():
    with op.batch_alter_table('invoices') as batch:
        batch.drop_constraint('kind', type_='check')
        batch.create_check_constraint('kind', f"kind IN ({KINDS}, 'card_check')")


def downgrade():
    # A card check is a verification without a trial; the older schema knows it by that name.
    op.execute("UPDATE invoices SET kind = 'verification' WHERE kind = 'card_check'")
    with op.batch_alter_table('invoices') as batch:
        batch.drop_constraint('kind', type_='check')
        batch.create_check_constraint('kind', f"kind IN ({KINDS})")
