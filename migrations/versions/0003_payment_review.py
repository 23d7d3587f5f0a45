"""Payments that need review say why and how staff resolved them; an invoice remembers the one provider
transaction its Check let through, so a second payment for it is refused while the first is applied.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 22:45:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payments') as batch:
        batch.add_column(sa.Column('review_reason', sa.Text(), nullable=True))
        batch.add_column(sa.Column('review_resolution', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('review_note', sa.Text(), nullable=True))
    # The review queue reads the payments needing review, newest first: a few among millions.
    op.create_index('ix_payments_needs_review', 'payments', ['created_at'],
                    postgresql_where=sa.text('needs_review'), sqlite_where=sa.text('needs_review'))
    with op.batch_alter_table('invoices') as batch:
        batch.add_column(sa.Column('reserved_transaction_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('reserved_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('invoices') as batch:
        batch.drop_column('reserved_at')
        batch.drop_column('reserved_transaction_id')
    op.drop_index('ix_payments_needs_review', table_name='payments')
    with op.batch_alter_table('payments') as batch:
        batch.drop_column('review_note')
        batch.drop_column('review_resolution')
        batch.drop_column('review_reason')
