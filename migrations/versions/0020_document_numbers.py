"""Invoices and fiscal receipts carry a number people read, 2026-000123: a gap-free counter per kind and
year. Existing rows are numbered in id order within the year they were created.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 13:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

NUMBERED = (('invoices', 'invoice'), ('receipts', 'receipt'))
# In one statement however many rows: numbered in id order within the year (UTC) each was created in.
NUMBER_IN_SQL = """
    WITH numbered AS (
        SELECT id, EXTRACT(YEAR FROM created_at AT TIME ZONE 'UTC')::int AS year,
               row_number() OVER (PARTITION BY EXTRACT(YEAR FROM created_at AT TIME ZONE 'UTC') ORDER BY id) AS n
        FROM {table}),
    written AS (
        UPDATE {table} AS doc SET number = numbered.year || '-' || lpad(numbered.n::text,
                                                                      greatest(6, length(numbered.n::text)), '0')
        FROM numbered WHERE doc.id = numbered.id)
    INSERT INTO document_counters (kind, year, last_number)
    SELECT :kind, year, count(*) FROM numbered GROUP BY year"""


def upgrade():
    op.create_table('document_counters',
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'year', name=op.f('pk_document_counters'))
    )
    bind = op.get_bind()
    for table, kind in NUMBERED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('number', sa.String(length=16), nullable=True))
        if bind.dialect.name == 'postgresql':
            bind.execute(sa.text(NUMBER_IN_SQL.format(table=table)), {"kind": kind})
        else:
            _number_row_by_row(bind, table, kind)
        with op.batch_alter_table(table) as batch:
            batch.create_unique_constraint(batch.f(f'uq_{table}_number'), ['number'])


def _number_row_by_row(bind, table, kind):
    """SQLite (the embedded default's few rows)."""
    counters = {}
    for row_id, created_at in bind.execute(sa.text(f"SELECT id, created_at FROM {table} ORDER BY id")).all():
        year = _year(created_at)
        counters[year] = counters.get(year, 0) + 1
        bind.execute(sa.text(f"UPDATE {table} SET number = :number WHERE id = :id"),
                     {"number": f"{year}-{counters[year]:06d}", "id": row_id})
    for year, last in counters.items():
        bind.execute(sa.text("INSERT INTO document_counters (kind, year, last_number) VALUES (:k, :y, :n)"),
                     {"k": kind, "y": year, "n": last})


def _year(created_at) -> int:
    return created_at.year if hasattr(created_at, 'year') else int(str(created_at)[:4])  # SQLite: text


def downgrade():
    for table, _kind in NUMBERED:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(batch.f(f'uq_{table}_number'), type_='unique')
            batch.drop_column('number')
    op.drop_table('document_counters')
