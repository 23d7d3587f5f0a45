"""Staff search by any part of an email or a name, and by a card's last four digits: trigram indexes (pg_trgm,
a trusted extension the database owner may create) on users.email and users.name, and an index on the last four
digits of payments and saved cards. Elsewhere (the embedded SQLite) the search works without them.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 02:45:00

"""
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index('ix_users_email_trgm', 'users', ['email'], postgresql_using='gin',
                        postgresql_ops={'email': 'gin_trgm_ops'})
        op.create_index('ix_users_name_trgm', 'users', ['name'], postgresql_using='gin',
                        postgresql_ops={'name': 'gin_trgm_ops'})
    op.create_index('ix_payments_card_last_four', 'payments', ['card_last_four'])
    op.create_index('ix_payment_methods_card_last_four', 'payment_methods', ['card_last_four'])


def downgrade():
    op.drop_index('ix_payment_methods_card_last_four', 'payment_methods')
    op.drop_index('ix_payments_card_last_four', 'payments')
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index('ix_users_name_trgm', 'users')
        op.drop_index('ix_users_email_trgm', 'users')
