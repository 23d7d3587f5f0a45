"""Document numbers customers and staff read: invoices and fiscal receipts each count their own years,
shown as 2026-000123 (year of issue, then the document's place in that year).

A number is taken in the transaction that creates its document, from a counter row per (kind, year) that
the taking statement locks until commit: a rolled-back creation gives its number back, so a sequence has no
gaps (a PostgreSQL SEQUENCE would keep them), and two creations at once queue on the row."""
from sqlalchemy import Integer, String, event, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal import clock
from portal.extensions import db

# One statement creates the year's row or takes the next number, with the row locked either way (the
# equivalent of SELECT ... FOR UPDATE then UPDATE, in one round trip; SQLite has one writer at a time).
_TAKE = text("""
    INSERT INTO document_counters (kind, year, last_number) VALUES (:kind, :year, 1)
    ON CONFLICT (kind, year) DO UPDATE SET last_number = document_counters.last_number + 1
    RETURNING last_number""")


class DocumentCounter(db.Model):
    __tablename__ = "document_counters"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # "invoice", "receipt"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer)


def document_number(year: int, counter: int) -> str:
    return f"{year}-{counter:06d}"  # a millionth document in a year gets seven digits


def take_number(session: Session, kind: str, year: int) -> str:
    """The next number of `kind` in `year`, in the session's transaction."""
    counter = session.connection().execute(_TAKE, {"kind": kind, "year": year}).scalar_one()
    return document_number(year, counter)


# Rows written around the ORM (portal/bench_data.py's INSERT ... SELECT) are numbered afterwards in one
# statement, PostgreSQL only: in id order within each year, after what the counter has given already.
_NUMBER_UNNUMBERED = """
    WITH numbered AS (
        SELECT id, EXTRACT(YEAR FROM created_at AT TIME ZONE 'UTC')::int AS year,
               row_number() OVER (PARTITION BY EXTRACT(YEAR FROM created_at AT TIME ZONE 'UTC') ORDER BY id) AS n
        FROM {table} WHERE number IS NULL),
    written AS (
        UPDATE {table} AS doc SET number = numbered.year || '-' || lpad(
            (COALESCE(c.last_number, 0) + numbered.n)::text,
            greatest(6, length((COALESCE(c.last_number, 0) + numbered.n)::text)), '0')
        FROM numbered LEFT JOIN document_counters AS c ON c.kind = :kind AND c.year = numbered.year
        WHERE doc.id = numbered.id)
    INSERT INTO document_counters (kind, year, last_number)
    SELECT :kind, year, count(*) FROM numbered GROUP BY year
    ON CONFLICT (kind, year) DO UPDATE SET last_number = document_counters.last_number + EXCLUDED.last_number"""


def number_unnumbered(session: Session, table: str, kind: str) -> None:
    session.execute(text(_NUMBER_UNNUMBERED.format(table=table)), {"kind": kind})


@event.listens_for(Session, "before_flush")
def _number_new_documents(session, _flush_context, _instances):
    """Every numbered document gets its number as it is first written, whichever service creates it. A
    document's class says its sequence (`NUMBERED_AS`); the year is that of its `created_at`, else of now
    (the billing clock)."""
    for doc in session.new:  # in the order they were added
        if getattr(doc, "NUMBERED_AS", None) is None or doc.number is not None:
            continue
        issued = doc.created_at or clock.now()
        doc.number = take_number(session, doc.NUMBERED_AS, issued.year)
