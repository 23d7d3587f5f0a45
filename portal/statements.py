"""Single statements on the hottest paths (the entitlement read on every play, the inbox INSERT on every
provider notification), each its own transaction. On PostgreSQL they are compiled once and run on a
pooled connection of their own, in autocommit and without the pre-ping: no unit of work, no Core
execution per call, no BEGIN/COMMIT or ping round trips (together most of these requests' cost, see
bench/README.md). Without the ping, a connection the server dropped (a restart) is found by the
statement itself, thrown away with the pool's other idle connections (a restart drops them all), and
the statement run once more on a new one: safe for a read, and for
an INSERT guarded by a unique key (a repeat of one that did commit fails as a duplicate). Elsewhere
(SQLite, the embedded default) the same statement runs through Core."""
import os
from functools import cache

import psycopg
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError

from portal.extensions import db


class AutocommitStatement:
    """A Core statement whose `first(**params)` returns its first row (a tuple) or None. Errors are
    SQLAlchemy's on every database (a duplicate key is an IntegrityError)."""

    def __init__(self, statement):
        self.statement = statement
        self._compiled = None

    def first(self, **params):
        engine = db.engine
        if engine.dialect.name != "postgresql":
            with engine.connect() as connection:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                return connection.execute(self.statement, params).first()
        if self._compiled is None:
            compiled = self.statement.compile(dialect=engine.dialect)
            self._compiled = compiled.string, compiled.params  # params: the statement's own constants
        sql, constants = self._compiled
        return _run(engine.url, sql, {**constants, **params})


@cache
def _engine(url, pid):
    # One per database and process (a forked worker must not share its parent's sockets); pooled,
    # connections in autocommit from the start, nothing to reset when they are handed back.
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None)


def _run(url, sql, params, *, again=True):
    pooled = _engine(url, os.getpid()).raw_connection()
    try:
        return pooled.driver_connection.execute(sql, params).fetchone()
    except psycopg.Error as error:
        if again and pooled.driver_connection.broken:
            # What dropped this connection (a restart) dropped the other idle ones too: a new pool.
            pooled.invalidate()
            _engine(url, os.getpid()).dispose()
            return _run(url, sql, params, again=False)
        # Parameters stay out of the message: an inbox row's body carries the card token.
        raise DBAPIError.instance(sql, params, error, psycopg.Error, hide_parameters=True) from error
    finally:
        pooled.close()
