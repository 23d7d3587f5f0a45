"""Billing mails: who a mail went to (outgoing_mails.user_id) and its unsubscribe link; which outbox
events have had their mails built (outbox.mailed_at); the customer's mail preferences and time zone;
the reminders sent once per subscription period (subscription_reminders).

Revision ID: 0011
Revises: 0014
Create Date: 2026-12-07 01:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0014'
branch_labels = None
depends_on = None

UNMAILED = "mailed_at IS NULL"


def upgrade():
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('reminder_mails', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column('billing_mail', sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table('outgoing_mails') as batch:
        batch.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('unsubscribe_url', sa.String(length=500), nullable=True))
        batch.create_foreign_key(op.f('fk_outgoing_mails_user_id_users'), 'users', ['user_id'], ['id'])
    op.create_index('ix_outgoing_mails_user_id', 'outgoing_mails', ['user_id', 'id'])
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('mailed_at', sa.DateTime(timezone=True), nullable=True))
    # Events from before billing mails existed are not mailed now, days late.
    op.execute("UPDATE outbox SET mailed_at = created_at")
    op.create_index('ix_outbox_unmailed', 'outbox', ['id'], postgresql_where=sa.text(UNMAILED),
                    sqlite_where=sa.text(UNMAILED))
    op.create_table(
        'subscription_reminders',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('subscription_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('period_end', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'],
                                name=op.f('fk_subscription_reminders_subscription_id_subscriptions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription_reminders')),
        sa.UniqueConstraint('subscription_id', 'kind', 'period_end', name='uq_subscription_reminders_period'),
    )


def downgrade():
    op.drop_table('subscription_reminders')
    op.drop_index('ix_outbox_unmailed', table_name='outbox')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('mailed_at')
    op.drop_index('ix_outgoing_mails_user_id', table_name='outgoing_mails')
    with op.batch_alter_table('outgoing_mails') as batch:
        batch.drop_constraint(op.f('fk_outgoing_mails_user_id_users'), type_='foreignkey')
        batch.drop_column('unsubscribe_url')
        batch.drop_column('user_id')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('billing_mail')
        batch.drop_column('reminder_mails')
        batch.drop_column('time_zone')
