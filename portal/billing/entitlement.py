"""May this customer watch now? Asked on every play, so it reads one row of the entitlement read model
(portal/models/entitlement.py) by the customer's external id: one indexed lookup."""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, literal_column, or_, select, true

from portal import clock
from portal.extensions import db
from portal.models import CustomerEntitlement, Plan, Subscription, User
from portal.models.entitlement import computed_rows, rewrite_entitlements
from portal.models.subscription import ENTITLED_STATUSES, LIVE_STATUSES
from portal.statements import AutocommitStatement


@dataclass(frozen=True)
class Entitlement:
    entitled: bool
    status: str | None = None
    plan_code: str | None = None
    until: datetime | None = None
    subscription_id: int | None = None


# Built and compiled once: constructing an ORM select per call costs more than running it, and the
# endpoint's whole budget is a fraction of a millisecond (bench/README.md, entitlement read).
_ENTITLEMENT_READ = AutocommitStatement(
    select(CustomerEntitlement.subscription_id, CustomerEntitlement.status, CustomerEntitlement.until,
           CustomerEntitlement.plan_code)
    .where(CustomerEntitlement.external_id == bindparam("external_id"))
    .limit(1)
)


def entitlement(external_id: str) -> Entitlement | None:
    """None when the customer is unknown. One read in autocommit, as nothing here is written."""
    row = _ENTITLEMENT_READ.first(external_id=external_id)
    if row is None:
        return None
    return _answer(*row)


def _answer(sub_id, status, until, plan_code) -> Entitlement:
    if sub_id is None:
        return Entitlement(entitled=False)
    # Past due keeps access while dunning runs: the customer is usually one card update away. Whether a
    # period has ended is decided now, on every read: time passes without any transition.
    entitled = status == "past_due" or (status in ENTITLED_STATUSES and until is not None and until > clock.now())
    return Entitlement(entitled=entitled, status=status, plan_code=plan_code, until=until, subscription_id=sub_id)


# --- the same answer computed from the subscriptions: reconciliation's reference, and the tests' ----------

_COMPUTED = (
    select(User.id, Subscription.id, Subscription.status, Subscription.current_period_end, Plan.code)
    .select_from(User)
    .outerjoin(Subscription, (Subscription.customer_id == User.id)
               & Subscription.status.in_([literal_column(f"'{status}'") for status in LIVE_STATUSES]))
    .outerjoin(Plan, Plan.id == Subscription.plan_id)
    .where(User.external_id == bindparam("external_id"))
    .order_by(Subscription.current_period_end.desc().nulls_last(), Subscription.id.desc())
    .limit(1)
)


def computed_entitlement(external_id: str) -> Entitlement | None:
    """What the read model must say, from the subscriptions themselves (the query the route ran before
    the read model: a three-table join and a sort)."""
    row = db.session.execute(_COMPUTED, {"external_id": external_id}).first()
    if row is None:
        return None
    _, sub_id, status, until, plan_code = row
    return _answer(sub_id, status, until, plan_code)


def reconcile_entitlements() -> list[int]:
    """Customers whose row disagrees with their subscriptions (or is missing, or outlived its customer),
    rewritten in one transaction; the ids are returned. Nothing should ever be found: ops run it after
    loading data around the application, and a test runs it after every transition."""
    table = CustomerEntitlement.__table__
    customer_id, *answer = computed_rows(true()).subquery().c
    differs = [getattr(table.c, name).is_distinct_from(column)
               for name, column in zip(("external_id", "subscription_id", "status", "plan_code", "until"), answer,
                                       strict=True)]
    wrong = db.session.scalars(
        select(customer_id).select_from(customer_id.table.outerjoin(table, table.c.customer_id == customer_id))
        .where(or_(table.c.customer_id.is_(None), *differs))).all()
    orphans = db.session.scalars(select(table.c.customer_id).where(table.c.customer_id.not_in(select(User.id)))).all()
    found = sorted({*wrong, *orphans})
    if found:
        rewrite_entitlements(db.session.connection(), wrong, gone=orphans)
    db.session.commit()
    return found
