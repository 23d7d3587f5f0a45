"""Lifecycles as python-statemachine machines, and the one way to run them against locked rows."""
from contextlib import contextmanager
from functools import cache

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session
from statemachine.exceptions import TransitionNotAllowed

from portal import ops
from portal.extensions import db
from portal.machines.base import AUDIT_ROWS, write_audit_rows

# session.info key: what the current transaction holds FOR UPDATE, by (model, id) or by a lookup key.
_HELD = "rows_held"
_RESERVED = "ids_reserved"


_DEPTH = "atomic_depth"


@contextmanager
def atomic():
    """One database transaction: commit when the block ends, roll back everything if it raises. A block inside
    another joins it instead of committing it half-way: it runs in a savepoint, so its failure undoes only its own
    work, and nothing commits until the outermost block ends."""
    info = db.session.info
    depth = info.get(_DEPTH, 0)
    info[_DEPTH] = depth + 1
    try:
        if depth:
            write_audit_rows(db.session)  # what the outer block queued stays its own
            savepoint = db.session.begin_nested()
            try:
                yield db.session
                write_audit_rows(db.session)
            except BaseException:
                db.session.info.pop(AUDIT_ROWS, None)  # the transitions of the failed block, not written yet
                savepoint.rollback()
                raise
            savepoint.commit()
        else:
            yield db.session
            db.session.commit()
    except BaseException:
        if not depth:
            db.session.rollback()
        raise
    finally:
        info[_DEPTH] = depth


def _held() -> dict:
    return db.session.info.setdefault(_HELD, {})


def lock(model, id, *, missing_ok=False):
    """Load a row FOR UPDATE, fresh from the database: concurrent transitions of it serialize here.
    A row this transaction locked already is returned as it is, without asking again."""
    held = _held()
    row = held.get((model, id))
    if row is not None:
        return row
    row = db.session.execute(
        select(model).where(model.id == id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if row is None:
        if missing_ok:
            return None
        raise LookupError(f"{model.__name__} {id} does not exist")
    held[(model, id)] = row
    ops.row_locked(row)
    return row


def lock_all(model, ids) -> dict:
    """Lock many rows in one statement, in id order (so two transactions locking overlapping sets wait
    for each other instead of deadlocking). Returns id -> row for those that exist."""
    held = _held()
    wanted = sorted({i for i in ids if (model, i) not in held})
    if wanted:
        rows = db.session.scalars(
            select(model).where(model.id.in_(wanted)).order_by(model.id).with_for_update()
            .execution_options(populate_existing=True)
        )
        for row in rows:
            held[(model, row.id)] = row
    locked = {i: held[(model, i)] for i in ids if (model, i) in held}
    ops.rows_locked(list(locked.values()))
    return locked


def hold(key, row) -> None:
    """Remember, for the rest of this transaction, the row found by a lookup `key` under FOR UPDATE
    (or None: known not to exist when it was looked up)."""
    _held()[key] = row


def held(key, default=None):
    return _held().get(key, default)


def reserve_ids(model, count: int) -> None:
    """Take `count` ids of `model`'s sequence at once (PostgreSQL), so rows created in a batch know
    their id without a flush each; elsewhere nothing is reserved and rows get theirs on flush."""
    if count <= 0 or db.session.get_bind().dialect.name != "postgresql":
        return
    ids = db.session.scalars(text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
                             {"table": model.__tablename__, "n": count}).all()
    db.session.info.setdefault(_RESERVED, {}).setdefault(model, []).extend(reversed(ids))


def reserved_id(model) -> int | None:
    reserved = db.session.info.get(_RESERVED, {}).get(model)
    return reserved.pop() if reserved else None


@event.listens_for(Session, "after_transaction_end")
def _release(session, transaction):
    # Locks end with the transaction (a savepoint's with its rollback): forget them, and unused ids.
    session.info.pop(_HELD, None)
    session.info.pop(_RESERVED, None)


@cache
def _machines() -> dict:
    from portal.machines.invoice import InvoiceMachine
    from portal.machines.payment import PaymentMachine
    from portal.machines.receipt import ReceiptMachine
    from portal.machines.refund import RefundMachine
    from portal.machines.subscription import SubscriptionMachine

    return {"Subscription": SubscriptionMachine, "Invoice": InvoiceMachine, "Payment": PaymentMachine,
            "Refund": RefundMachine, "FiscalReceipt": ReceiptMachine}


def fire(row, event: str, *, actor: str, cause: str = "", **data):
    """Run one lifecycle event on a (locked) row. Writes the transitions row and any outbox row in the
    current transaction; raises TransitionNotAllowed, changing nothing, when the event is illegal."""
    _machines()[type(row).__name__].run(row, event, actor=actor, cause=cause, **data)
    return row


__all__ = ["TransitionNotAllowed", "atomic", "fire", "hold", "held", "lock", "lock_all", "reserve_ids",
           "reserved_id"]
