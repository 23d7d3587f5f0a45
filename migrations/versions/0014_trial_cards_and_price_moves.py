"""One trial per card, and price moves: the cards that have had a free trial (a fingerprint of what the
provider tells about the card, never the card number), why a trial was refused, and a price a
subscription moves to at its first renewal after the notice.

Revision ID: 0014
Revises: 0008
Create Date: 2026-12-07 01:40:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0014'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'trial_cards',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('card_fingerprint', sa.String(length=64), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('subscription_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['users.id'], name=op.f('fk_trial_cards_customer_id_users')),
        sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'],
                                name=op.f('fk_trial_cards_subscription_id_subscriptions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_trial_cards')),
        sa.UniqueConstraint('card_fingerprint', name=op.f('uq_trial_cards_card_fingerprint')),
    )
    with op.batch_alter_table('subscriptions') as batch:
        batch.add_column(sa.Column('trial_refusal', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('scheduled_amount', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('price_change_from', sa.DateTime(timezone=True), nullable=True))
        batch.create_check_constraint(op.f('ck_subscriptions_scheduled_amount_not_negative'),
                                      'scheduled_amount IS NULL OR scheduled_amount >= 0')


def downgrade():
    with op.batch_alter_table('subscriptions') as batch:
        batch.drop_constraint(op.f('ck_subscriptions_scheduled_amount_not_negative'), type_='check')
        batch.drop_column('price_change_from')
        batch.drop_column('scheduled_amount')
        batch.drop_column('trial_refusal')
    op.drop_table('trial_cards')
