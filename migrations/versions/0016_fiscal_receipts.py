"""Fiscal receipts (54-FZ): the seller's settings and each receipt asked of a provider's till.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 02:40:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade():
    op.create_table(
        'seller_settings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('legal_name', sa.String(length=255), nullable=False),
        sa.Column('inn', sa.String(length=12), nullable=False),
        sa.Column('taxation', sa.String(length=24), nullable=False),
        sa.Column('vat_default', sa.String(length=8), nullable=False),
        sa.Column('vat_by_plan', JSON, nullable=True),
        sa.Column('payment_subject', sa.String(length=32), nullable=False),
        sa.Column('payment_method', sa.String(length=32), nullable=False),
        sa.Column('receipts_email', sa.String(length=254), nullable=False),
        sa.Column('address', sa.Text(), nullable=False),
        sa.Column('changed_by', sa.String(length=200), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_seller_settings')),
    )
    op.create_table(
        'receipts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('provider', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('payment_id', sa.Integer(), nullable=False),
        sa.Column('refund_id', sa.Integer(), nullable=True),
        sa.Column('amount', sa.Integer(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('sent', JSON, nullable=True),
        sa.Column('provider_receipt_id', sa.String(length=64), nullable=True),
        sa.Column('fiscal_storage_number', sa.String(length=16), nullable=True),
        sa.Column('fiscal_document_number', sa.String(length=16), nullable=True),
        sa.Column('fiscal_sign', sa.String(length=16), nullable=True),
        sa.Column('register_number', sa.String(length=20), nullable=True),
        sa.Column('registered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('url', sa.Text(), nullable=True),
        sa.Column('qr', sa.Text(), nullable=True),
        sa.Column('failure', sa.Text(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'registered', 'failed')", name=op.f('ck_receipts_status')),
        sa.CheckConstraint("kind IN ('income', 'income_return')", name=op.f('ck_receipts_kind')),
        sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_receipts_payment_id_payments')),
        sa.ForeignKeyConstraint(['refund_id'], ['refunds.id'], name=op.f('fk_receipts_refund_id_refunds')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_receipts')),
        sa.UniqueConstraint('refund_id', name='uq_receipts_refund'),
        sa.UniqueConstraint('provider', 'provider_receipt_id', name='uq_receipts_provider_receipt'),
    )
    op.create_index('ix_receipts_payment_id', 'receipts', ['payment_id'])
    op.create_index('ix_receipts_status_created', 'receipts', ['status', 'created_at'])
    op.create_index('uq_receipts_payment_income', 'receipts', ['payment_id'], unique=True,
                    postgresql_where=sa.text("kind = 'income'"), sqlite_where=sa.text("kind = 'income'"))


def downgrade():
    op.drop_table('receipts')
    op.drop_table('seller_settings')
