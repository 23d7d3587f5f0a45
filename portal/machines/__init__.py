"""Lifecycles as python-statemachine machines, and the one way to run them against locked rows."""
from contextlib import contextmanager

from sqlalchemy import select
from statemachine.exceptions import TransitionNotAllowed

from portal.extensions import db


@contextmanager
def atomic():
    """One database transaction: commit when the block ends, roll back everything if it raises."""
    try:
        yield db.session
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def lock(model, id):
    """Load a row FOR UPDATE, fresh from the database: concurrent transitions of it serialize here."""
    row = db.session.execute(
        select(model).where(model.id == id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if row is None:
        raise LookupError(f"{model.__name__} {id} does not exist")
    return row


def fire(row, event: str, *, actor: str, cause: str = "", **data):
    """Run one lifecycle event on a (locked) row. Writes the transitions row and any outbox row in the
    current transaction; raises TransitionNotAllowed, changing nothing, when the event is illegal."""
    row.machine.send(event, actor=actor, cause=cause, **data)
    return row



__all__ = ["TransitionNotAllowed", "atomic", "fire", "lock"]
