"""Test clocks: per customer, how far their billing time runs ahead (sandbox mode only).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 01:45:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'test_clocks',
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('offset_seconds', sa.BigInteger(), nullable=False),
        sa.Column('advanced_by', sa.String(length=200), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['users.id'], name=op.f('fk_test_clocks_customer_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_test_clocks')),
    )


def downgrade():
    op.drop_table('test_clocks')
