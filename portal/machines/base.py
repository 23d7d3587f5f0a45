"""The base every billing lifecycle shares, and the listeners that write the audit and outbox rows."""
from statemachine import StateChart
from statemachine.exceptions import TransitionNotAllowed

from portal.extensions import db


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
        return cls(model=row, state_field="status", listeners=[TransitionLog(cls.entity_type)])

    @classmethod
    def diagram(cls) -> str:
        return f"{cls:mermaid}"


class TransitionLog:
    """Writes the transitions row and any outbox row in the session of the change, so the three commit
    together or not at all."""

    def __init__(self, entity_type):
        self.entity_type = entity_type

    def after_transition(self, event, source, target, machine, actor=None, cause=""):
        from portal.events import event_payload
        from portal.models import OutboxMessage, Transition

        if actor is None:
            raise ValueError(f"{self.entity_type} {event}: every transition needs an actor")
        row = machine.model
        if row.id is None:
            db.session.add(row)
            db.session.flush()
        db.session.add(
            Transition(
                entity_type=self.entity_type,
                entity_id=row.id,
                from_state=source.value,
                to_state=target.value,
                event=str(event),
                actor=actor,
                cause=cause or "",
            )
        )
        routing_key = machine.announces.get(str(event))
        if routing_key:
            # Reading the row's relationships for the payload must not flush the session half-way.
            with db.session.no_autoflush:
                payload = event_payload(routing_key, row)
            db.session.add(
                OutboxMessage(routing_key=routing_key, aggregate_type=self.entity_type, aggregate_id=row.id,
                              payload=payload)
            )


__all__ = ["BillingMachine", "TransitionLog", "TransitionNotAllowed"]
