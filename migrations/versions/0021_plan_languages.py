"""A plan is named and described in each language the pages speak (ru, en); today's name and
description become both, for staff to translate.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 13:35:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

LANGUAGES = ('ru', 'en')


def upgrade():
    with op.batch_alter_table('plans') as batch:
        for code in LANGUAGES:
            batch.add_column(sa.Column(f'name_{code}', sa.String(length=200), nullable=True))
            batch.add_column(sa.Column(f'description_{code}', sa.Text(), nullable=True))
    op.execute("UPDATE plans SET name_ru = name, name_en = name, description_ru = description, "
               "description_en = description")
    with op.batch_alter_table('plans') as batch:
        for code in LANGUAGES:
            batch.alter_column(f'name_{code}', existing_type=sa.String(length=200), nullable=False)
            batch.alter_column(f'description_{code}', existing_type=sa.Text(), nullable=False)
        batch.drop_column('name')
        batch.drop_column('description')


def downgrade():
    with op.batch_alter_table('plans') as batch:
        batch.add_column(sa.Column('name', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('description', sa.Text(), nullable=True))
    op.execute("UPDATE plans SET name = name_ru, description = description_ru")
    with op.batch_alter_table('plans') as batch:
        batch.alter_column('name', existing_type=sa.String(length=200), nullable=False)
        batch.alter_column('description', existing_type=sa.Text(), nullable=False)
        for code in LANGUAGES:
            batch.drop_column(f'name_{code}')
            batch.drop_column(f'description_{code}')
