"""The embedded default's SQLite under the threads of one process: request threads, the in-process job
thread and the cron thread write at once, and none of them is refused with "database is locked"."""
import threading

from sqlalchemy import text

from portal import create_app, sqlite_writes
from portal.extensions import db
from portal.machines import atomic

WRITERS, TRANSACTIONS = 4, 150


def embedded_app(tmp_path):
    return create_app({"EMBEDDED": True, "PORTAL_INSTANCE": str(tmp_path), "TESTING": True,
                       "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'portal.sqlite3'}"})


def test_threads_that_read_before_they_write_all_commit(tmp_path):
    """Each transaction reads, then writes in a savepoint, as a transition's does: SQLite refuses such an
    upgrade at once when another connection writes, so without the portal's write lock some of these fail."""
    app = embedded_app(tmp_path)
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(text("CREATE TABLE ledger (id INTEGER PRIMARY KEY, writer INTEGER, n INTEGER)"))
    refused = []

    def write(writer):
        with app.app_context():
            for n in range(TRANSACTIONS):
                try:
                    with atomic():
                        db.session.execute(text("SELECT count(*) FROM ledger")).scalar()
                        with atomic():  # a savepoint
                            db.session.execute(text("SELECT max(n) FROM ledger WHERE writer = :w"), {"w": writer})
                            db.session.execute(text("INSERT INTO ledger (writer, n) VALUES (:w, :n)"),
                                               {"w": writer, "n": n})
                except Exception as error:  # what a request would have answered with a 500
                    refused.append(repr(error))
            db.session.remove()

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert refused == []
    with app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM ledger")).scalar() == WRITERS * TRANSACTIONS
        db.session.remove()
        db.engine.dispose()


def test_a_thread_may_write_on_a_second_connection_while_its_transaction_is_open(tmp_path, monkeypatch, caplog):
    """The lock is the thread's: an autocommit statement of the same thread (the inbox INSERT runs on its own
    connection) is not made to wait for the thread's own open transaction; a lock per connection would wait
    for itself until it gave up, saying so."""
    monkeypatch.setattr(sqlite_writes, "WAIT_SECONDS", 1.0)
    app = embedded_app(tmp_path)
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(text("CREATE TABLE inbox (id INTEGER PRIMARY KEY, body TEXT)"))
        with atomic():
            with atomic():
                db.session.connection()  # its SAVEPOINT opens the transaction: the thread holds the lock
                with db.engine.connect() as other:
                    other = other.execution_options(isolation_level="AUTOCOMMIT")
                    other.execute(text("INSERT INTO inbox (body) VALUES ('pay')"))
                db.session.execute(text("INSERT INTO inbox (body) VALUES ('check')"))
        assert db.session.execute(text("SELECT body FROM inbox")).scalars().all() == ["pay", "check"]
        assert "without the lock" not in caplog.text
        db.session.remove()
        db.engine.dispose()
