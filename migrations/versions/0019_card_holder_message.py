"""A declined payment keeps the provider's message for the card holder (CloudPayments' CardHolderMessage),
which the failed-payment mail quotes.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 11:05:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payments') as batch:
        batch.add_column(sa.Column('card_holder_message', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('payments') as batch:
        batch.drop_column('card_holder_message')
