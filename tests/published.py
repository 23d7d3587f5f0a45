"""What the bus is told: the outbox rows of one routing key, each envelope checked against the JSON schema
published for it (portal/bus/schemas), as a consumer would read them."""
import json

from sqlalchemy import select

from portal.bus import schemas
from portal.extensions import db
from portal.models import OutboxMessage


def published(routing_key: str, subscription_id: int | None = None) -> list[dict]:
    """The `data` of each event of `routing_key` (of one subscription when given), oldest first; fails when
    an envelope does not match its schema."""
    query = select(OutboxMessage).where(OutboxMessage.routing_key == routing_key)
    if subscription_id is not None:
        query = query.where(OutboxMessage.aggregate_type == "subscription",
                            OutboxMessage.aggregate_id == subscription_id)
    rows = db.session.scalars(query.order_by(OutboxMessage.id)).all()
    for row in rows:
        envelope = json.loads(json.dumps(row.envelope))
        assert envelope["type"] == routing_key
        assert list(schemas.event_validator(routing_key).iter_errors(envelope)) == [], envelope
    return [row.envelope["data"] for row in rows]
