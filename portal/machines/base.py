"""The base every billing lifecycle shares, and the listeners that write the audit and outbox rows."""
import threading

from sqlalchemy import event, insert
from sqlalchemy.orm import Session
from statemachine import StateChart
from statemachine.exceptions import TransitionNotAllowed

from portal.extensions import db
from portal.models.types import utcnow
from portal.ops import metrics

# Per thread: machine class -> built machines not running an event right now.
_IDLE = threading.local()
# session.info key: (transitions rows, outbox rows) queued in the current transaction.
AUDIT_ROWS = "audit_rows"


class RowRef:
    """The model a machine sees: the row it is running for. A machine is costly to build (about 1.4 ms,
    more than sending it an event), so `BillingMachine.run` keeps built ones per thread and points
    them at the next row; every attribute read and write goes through to that row."""

    __slots__ = ("row",)

    def __init__(self, row):
        object.__setattr__(self, "row", row)

    def __getattr__(self, name):
        return getattr(object.__getattribute__(self, "row"), name)

    def __setattr__(self, name, value):
        if name == "row":
            object.__setattr__(self, name, value)
        else:
            setattr(self.row, name, value)


class BillingMachine(StateChart):
    """Strict by default: an illegal event raises TransitionNotAllowed and a failing callback propagates,
    so the surrounding database transaction rolls back and nothing changes."""

    allow_event_without_transition = False
    catch_errors_as_events = False
    atomic_configuration_update = True

    entity_type: str = ""
    # event id -> routing key of the bus event the transition announces.
    announces: dict[str, str] = {}

    @classmethod
    def bind(cls, row):
        return cls(model=RowRef(row), state_field="status", listeners=[TransitionLog(cls.entity_type)])

    @classmethod
    def run(cls, row, event: str, **data):
        """Send `event` for `row` on a machine of this class that this thread built before, if one is
        idle. A machine whose event raised, or that reached a final state (its engine stops), is
        dropped rather than reused."""
        idle = _IDLE.__dict__.setdefault(cls, [])
        # A new row without a state yet gets a machine of its own: building one enters the initial state.
        machine = idle.pop() if idle and row.status is not None else cls.bind(row)
        machine.model.row = row
        machine.send(event, **data)
        machine.model.row = None
        if not machine.is_terminated:
            idle.append(machine)

    def announcement(self, event: str) -> str | None:
        """The routing key of the bus event this transition announces, if any."""
        return self.announces.get(event)

    @classmethod
    def diagram(cls) -> str:
        return f"{cls:mermaid}"


class TransitionLog:
    """Writes the transitions row and any outbox row in the session of the change, so the three commit
    together or not at all. The rows are queued on the session and written with one multi-row INSERT
    per table (`write_audit_rows`) before the session flushes, runs a query or commits: a batch of
    notifications pays for two statements, not a unit-of-work object per row."""

    def __init__(self, entity_type):
        self.entity_type = entity_type

    def after_transition(self, event, source, target, machine, actor=None, cause=""):
        from portal.events import event_payload

        if actor is None:
            raise ValueError(f"{self.entity_type} {event}: every transition needs an actor")
        row = machine.model.row
        if row.id is None:
            db.session.add(row)
            db.session.flush()
        routing_key = machine.announcement(str(event))
        if routing_key:
            # Reading the row's relationships for the payload must not flush the session half-way (its
            # queries write the rows queued so far, so the queue is taken only after them).
            with db.session.no_autoflush:
                payload = event_payload(routing_key, row)
        now = utcnow()
        transitions, outbox = db.session.info.setdefault(AUDIT_ROWS, ([], []))
        transitions.append({"entity_type": self.entity_type, "entity_id": row.id, "from_state": source.value,
                            "to_state": target.value, "event": str(event), "actor": actor, "cause": cause or "",
                            "created_at": now})
        metrics.transition(self.entity_type, row, str(event), source.value, target.value)
        if routing_key:
            outbox.append({"routing_key": routing_key, "aggregate_type": self.entity_type, "aggregate_id": row.id,
                           "payload": payload, "created_at": now, "publish_attempts": 0})


def write_audit_rows(session: Session) -> None:
    """Write the transitions and outbox rows queued in this session's transaction, in order."""
    from portal.models import OutboxMessage, Transition

    queued = session.info.pop(AUDIT_ROWS, None)
    if queued is None:
        return
    transitions, outbox = queued
    connection = session.connection()
    for table, rows in ((Transition.__table__, transitions), (OutboxMessage.__table__, outbox)):
        if rows:
            connection.execute(insert(table), rows)
    if outbox:
        from portal.mail.events import events_written

        events_written(session)  # the mails these events cause are built after the commit


@event.listens_for(Session, "before_flush")
def _before_flush(session, flush_context, instances):
    write_audit_rows(session)


@event.listens_for(Session, "before_commit")
def _before_commit(session):
    write_audit_rows(session)


@event.listens_for(Session, "do_orm_execute")
def _before_query(orm_execute_state):
    # A query in the same transaction sees the rows, as it would see flushed objects.
    if AUDIT_ROWS in orm_execute_state.session.info:
        write_audit_rows(orm_execute_state.session)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session, previous_transaction):
    if not previous_transaction.nested:
        session.info.pop(AUDIT_ROWS, None)


__all__ = ["BillingMachine", "RowRef", "TransitionLog", "TransitionNotAllowed", "write_audit_rows"]
