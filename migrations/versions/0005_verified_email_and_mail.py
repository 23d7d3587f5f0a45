"""Verified email and outgoing mail: users.email_verified_at and users.locale; one web account and one
platform customer per address instead of one row (the platform's customer is kept apart from an
unverified web account); the outgoing_mails table.

Revision ID: 0005
Revises: 0009
Create Date: 2026-12-06 22:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0009'
branch_labels = None
depends_on = None

WEB = "external_id IS NULL"
PLATFORM = "external_id IS NOT NULL"


def upgrade():
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('email_verified_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('locale', sa.String(length=8), nullable=True))
        batch.drop_constraint('uq_users_email', type_='unique')
    # Accounts from before: the platform's customers and staff-made accounts were trusted as they were.
    op.execute("UPDATE users SET email_verified_at = created_at WHERE email IS NOT NULL")
    op.create_index('uq_users_email_web', 'users', ['email'], unique=True,
                    postgresql_where=sa.text(WEB), sqlite_where=sa.text(WEB))
    op.create_index('uq_users_email_platform', 'users', ['email'], unique=True,
                    postgresql_where=sa.text(PLATFORM), sqlite_where=sa.text(PLATFORM))
    op.create_table(
        'outgoing_mails',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('purpose', sa.String(length=32), nullable=False),
        sa.Column('subject_key', sa.String(length=200), nullable=False),
        sa.Column('to_address', sa.String(length=320), nullable=False),
        sa.Column('locale', sa.String(length=8), nullable=False),
        sa.Column('subject', sa.String(length=300), nullable=False),
        sa.Column('text_body', sa.Text(), nullable=False),
        sa.Column('html_body', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outgoing_mails')),
        sa.UniqueConstraint('purpose', 'subject_key', name='uq_outgoing_mails_purpose_subject'),
    )
    op.create_index('ix_outgoing_mails_status_next_attempt', 'outgoing_mails', ['status', 'next_attempt_at'])


def downgrade():
    op.drop_index('ix_outgoing_mails_status_next_attempt', table_name='outgoing_mails')
    op.drop_table('outgoing_mails')
    op.drop_index('uq_users_email_platform', table_name='users')
    op.drop_index('uq_users_email_web', table_name='users')
    with op.batch_alter_table('users') as batch:
        batch.create_unique_constraint('uq_users_email', ['email'])
        batch.drop_column('locale')
        batch.drop_column('email_verified_at')
