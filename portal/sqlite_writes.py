"""SQLite (the embedded default) with its write transactions taken one thread at a time.

The embedded portal writes from several threads of one process: the request threads, the in-process job
thread and the cron thread. SQLite allows one writer, and a transaction that read before it writes (a
savepoint opens one, then the first write must upgrade the lock) is refused at once, without waiting,
when another connection is writing: a request would answer 500 "database is locked". Here every SQLite
connection takes a process-wide lock before the statement that opens its transaction (the first write or
savepoint) and gives it back when the transaction ends, so a second writer waits its turn instead.

Reads outside a transaction take nothing, as in SQLite itself. The lock is per thread, not per connection:
a thread whose transaction is open may write on a second connection, as it could before (SQLite decides).
A wait longer than WAIT_SECONDS goes on without the lock, logged: SQLite's own busy timeout then applies,
so a thread that holds the lock while it waits for another thread degrades to SQLite's answer, never
hangs."""
import logging
import sqlite3
import threading

log = logging.getLogger(__name__)

WAIT_SECONDS = 30.0
# Statements that never open a transaction; any other one may (an INSERT, a SAVEPOINT, a BEGIN).
READS = ("SELECT", "PRAGMA", "EXPLAIN", "RELEASE", "COMMIT", "ROLLBACK", "END")


class ThreadLock:
    """Held by one thread at a time, as often as it likes; released per hold, from any thread."""

    def __init__(self):
        self._changed = threading.Condition()
        self._owner = None
        self._holds = 0

    def acquire(self, timeout: float) -> bool:
        me = threading.get_ident()
        with self._changed:
            if not self._changed.wait_for(lambda: self._owner in (None, me), timeout):
                return False
            self._owner, self._holds = me, self._holds + 1
            return True

    def release(self) -> None:
        with self._changed:
            self._holds -= 1
            if self._holds == 0:
                self._owner = None
                self._changed.notify_all()


WRITES = ThreadLock()


def opens_transaction(sql: str) -> bool:
    return not sql.lstrip().upper().startswith(READS)


class SerializedConnection(sqlite3.Connection):
    """A sqlite3 connection that holds WRITES from its first write until its transaction ends."""

    holding = False

    def cursor(self, factory=None):
        return super().cursor(factory or SerializedCursor)

    def execute(self, sql, parameters=(), /):
        return self.cursor().execute(sql, parameters)

    def hold_for(self, sql: str) -> None:
        if self.holding or not opens_transaction(sql):
            return
        if WRITES.acquire(WAIT_SECONDS):
            self.holding = True
        else:
            log.warning("sqlite: waited %s s for another thread's transaction; going on without the lock",
                        WAIT_SECONDS)

    def let_go_when_done(self) -> None:
        if self.holding and not self.in_transaction:
            self.holding = False
            WRITES.release()

    def commit(self):
        try:
            super().commit()
        finally:
            self.let_go_when_done()

    def rollback(self):
        try:
            super().rollback()
        finally:
            self.let_go_when_done()

    def close(self):
        try:
            super().close()
        finally:
            if self.holding:
                self.holding = False
                WRITES.release()


class SerializedCursor(sqlite3.Cursor):
    def execute(self, sql, parameters=(), /):
        self.connection.hold_for(sql)
        try:
            return super().execute(sql, parameters)
        finally:
            self.connection.let_go_when_done()

    def executemany(self, sql, seq_of_parameters, /):
        self.connection.hold_for(sql)
        try:
            return super().executemany(sql, seq_of_parameters)
        finally:
            self.connection.let_go_when_done()


def engine_options(url: str, options: dict) -> dict:
    """The engine options for this database: SQLite connections made as SerializedConnection."""
    if not url.startswith("sqlite"):
        return options
    connect_args = {**options.get("connect_args", {}), "factory": SerializedConnection}
    return {**options, "connect_args": connect_args}
