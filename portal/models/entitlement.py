"""The entitlement read model: one row per customer with what GET entitlement answers, kept by the session.

Asked on every play, so the answer is one indexed lookup of a row written beforehand: every transaction
that changes what the answer is made of (a subscription's status, period end, plan or owner; a customer's
external id, creation or deletion) rewrites its customers' rows just before it commits, in the same
transaction, from the subscriptions as they then are. Hooked on the session (every flush is looked at)
and on the subscription machine, not on the services, so no code path can forget it; writes around the
ORM (bulk loads, the account merge) name their customers with `entitlements_changed`."""
from sqlalchemy import ForeignKey, Index, Integer, String, event, inspect, literal, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from portal.extensions import db
from portal.models.catalog import Plan
from portal.models.customer import User
from portal.models.subscription import LIVE_STATUSES, Subscription
from portal.models.types import UTCDateTime, utcnow

# session.info keys: ids of the customers whose rows this transaction must rewrite before it commits, and
# of those it deleted.
CHANGED = "entitlements_changed"
GONE = "entitlements_gone"
# What the answer is made of; a flush that changes none of these leaves the rows alone.
SUBSCRIPTION_FIELDS = ("status", "current_period_end", "plan_id", "customer_id")


class CustomerEntitlement(db.Model):
    """Derived from users and subscriptions, never edited by itself (the account merge skips it: `read_model`)."""

    __tablename__ = "entitlements"
    __table_args__ = (Index("ix_entitlements_external_id", "external_id"), {"info": {"read_model": True}})

    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(128))
    # The customer's live subscription (the latest period end first), or None: no subscription to report.
    subscription_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str | None] = mapped_column(String(16))
    plan_code: Mapped[str | None] = mapped_column(String(64))
    until = mapped_column(UTCDateTime)
    updated_at = mapped_column(UTCDateTime, nullable=False)


def live_subscription_of(customer_id):
    """The id of the subscription the entitlement reports for a customer (a column of the outer query)."""
    live = aliased(Subscription)
    return (select(live.id)
            .where(live.customer_id == customer_id, live.status.in_(LIVE_STATUSES))
            .order_by(live.current_period_end.desc().nulls_last(), live.id.desc())
            .limit(1).correlate(User).scalar_subquery())


def computed_rows(where):
    """customer id, external id, subscription id, status, plan code, until: for the users `where` picks,
    computed from the subscriptions."""
    return (select(User.id, User.external_id, Subscription.id, Subscription.status, Plan.code,
                   Subscription.current_period_end)
            .select_from(User)
            .outerjoin(Subscription, Subscription.id == live_subscription_of(User.id))
            .outerjoin(Plan, Plan.id == Subscription.plan_id)
            .where(where))


COLUMNS = ("customer_id", "external_id", "subscription_id", "status", "plan_code", "until")


def write_entitlements(connection, where) -> None:
    """Rewrite the rows of the users `where` picks (one INSERT ... SELECT ... ON CONFLICT), and drop the
    rows of customers that are gone."""
    table = CustomerEntitlement.__table__
    insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    source = computed_rows(where).add_columns(literal(utcnow(), UTCDateTime))
    statement = insert(table).from_select([*COLUMNS, "updated_at"], source)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.customer_id],
        set_={name: statement.excluded[name] for name in (*COLUMNS[1:], "updated_at")})
    connection.execute(statement)


def rewrite_entitlements(connection, customer_ids, gone=()) -> None:
    """Rewrite these customers' rows; `gone`: customers deleted (a web account merged into the platform's),
    whose rows PostgreSQL's cascade took already and SQLite, which may not enforce the key, is told about."""
    ids = sorted(set(customer_ids) - set(gone))
    if ids:
        # Two transactions changing one customer's subscriptions at once would each compute the row from
        # what it saw when its statement began, and the later write would undo the earlier change. The
        # rows are locked first (in id order: no deadlock between batches), so the rewrite that follows,
        # a statement of its own, sees whatever the other transaction committed while this one waited.
        table = CustomerEntitlement.__table__
        connection.execute(select(table.c.customer_id).where(table.c.customer_id.in_(ids))
                           .order_by(table.c.customer_id).with_for_update())
        write_entitlements(connection, User.id.in_(ids))
    if gone:
        table = CustomerEntitlement.__table__
        connection.execute(table.delete().where(table.c.customer_id.in_(sorted(set(gone)))))


def entitlements_changed(session: Session, *customer_ids) -> None:
    """These customers' rows are rewritten before the session's transaction commits."""
    session.info.setdefault(CHANGED, set()).update(i for i in customer_ids if i is not None)


def _replaced(obj, name) -> list | None:
    """The values this flush replaced in an attribute (None: unchanged)."""
    history = inspect(obj).attrs[name].history
    return list(history.deleted) if history.has_changes() else None


@event.listens_for(Session, "after_flush")
def _note_flushed_changes(session, flush_context):
    # The lists and attribute histories still show what this flush wrote; new rows have their ids.
    changed = []
    for obj in session.new:
        if isinstance(obj, Subscription):
            changed.append(obj.customer_id)
        elif isinstance(obj, User):
            changed.append(obj.id)
    for obj in session.dirty:
        if isinstance(obj, Subscription):
            if any(_replaced(obj, name) is not None for name in SUBSCRIPTION_FIELDS):
                changed.append(obj.customer_id)
                changed.extend(_replaced(obj, "customer_id") or ())  # the owner it had before
        elif isinstance(obj, User) and _replaced(obj, "external_id") is not None:
            changed.append(obj.id)
    gone = [obj.id for obj in session.deleted if isinstance(obj, User)]
    if gone:
        session.info.setdefault(GONE, set()).update(gone)
    if changed:
        entitlements_changed(session, *changed)


@event.listens_for(Session, "before_commit")
def _write_before_commit(session):
    if not (session.info.get(CHANGED) or session.info.get(GONE) or session.new or session.dirty or session.deleted):
        return
    session.flush()  # what is still pending is part of the answer (and noted by the flush)
    changed, gone = session.info.pop(CHANGED, set()), session.info.pop(GONE, set())
    if changed or gone:
        rewrite_entitlements(session.connection(), changed, gone)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session, previous_transaction):
    if not previous_transaction.nested:
        session.info.pop(CHANGED, None)
        session.info.pop(GONE, None)
