"""Several payment providers at once: the default provider per currency (staff's choice), the provider
whose Check reserved an invoice, and inbox kinds long enough for YooKassa's event names.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 02:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'provider_defaults',
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('provider', sa.String(length=32), nullable=False),
        sa.Column('changed_by', sa.String(length=200), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('currency', name=op.f('pk_provider_defaults')),
    )
    with op.batch_alter_table('invoices') as batch:
        batch.add_column(sa.Column('reserved_provider', sa.String(length=32), nullable=True))
    with op.batch_alter_table('payment_methods') as batch:
        batch.add_column(sa.Column('card_issuer', sa.String(length=64), nullable=True))
    with op.batch_alter_table('webhook_events') as batch:
        batch.alter_column('kind', type_=sa.String(length=40), existing_type=sa.String(length=16),
                           existing_nullable=False)


def downgrade():
    # Kinds longer than the old column belong to a provider the old code does not know.
    op.execute("DELETE FROM webhook_events WHERE length(kind) > 16")
    with op.batch_alter_table('webhook_events') as batch:
        batch.alter_column('kind', type_=sa.String(length=16), existing_type=sa.String(length=40),
                           existing_nullable=False)
    with op.batch_alter_table('payment_methods') as batch:
        batch.drop_column('card_issuer')
    with op.batch_alter_table('invoices') as batch:
        batch.drop_column('reserved_provider')
    op.drop_table('provider_defaults')
