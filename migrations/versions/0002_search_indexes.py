"""Indexes for lookups that scanned whole tables at scale: staff search by provider transaction id and by
email prefix (bench/README.md, item 5).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 21:00:00

"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    # The unique key is (provider, provider_transaction_id): a search by the transaction id alone, as staff
    # type it, cannot use it and read all payments (98 ms at 1,000,000 rows).
    op.create_index('ix_payments_provider_transaction_id', 'payments', ['provider_transaction_id'])
    # "email starts with": LIKE 'prefix%' uses a btree only in the C collation or with pattern ops.
    op.create_index('ix_users_email_prefix', 'users', ['email'], postgresql_ops={'email': 'varchar_pattern_ops'})


def downgrade():
    op.drop_index('ix_users_email_prefix', table_name='users')
    op.drop_index('ix_payments_provider_transaction_id', table_name='payments')
