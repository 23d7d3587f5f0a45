"""May this customer watch now? Asked on every play, so it is one indexed query."""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, literal_column, select

from portal import clock
from portal.models import Plan, Subscription, User
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
_ENTITLEMENT_QUERY = AutocommitStatement(
    select(User.id, Subscription.id, Subscription.status, Subscription.current_period_end, Plan.code)
    .select_from(User)
    .outerjoin(Subscription, (Subscription.customer_id == User.id)
               # Constants rendered into the SQL: an expanding IN parameter is re-rendered on every call.
               # A paused subscription is reported (status "paused", not entitled) rather than none.
               & Subscription.status.in_([literal_column(f"'{status}'") for status in LIVE_STATUSES]))
    .outerjoin(Plan, Plan.id == Subscription.plan_id)
    .where(User.external_id == bindparam("external_id"))
    .order_by(Subscription.current_period_end.desc().nulls_last())
    .limit(1)
)


def entitlement(external_id: str) -> Entitlement | None:
    """None when the customer is unknown. One read in autocommit, as nothing here is written."""
    row = _ENTITLEMENT_QUERY.first(external_id=external_id)
    if row is None:
        return None
    _, sub_id, status, until, plan_code = row
    if sub_id is None:
        return Entitlement(entitled=False)
    # Past due keeps access while dunning runs: the customer is usually one card update away.
    entitled = status == "past_due" or (status in ENTITLED_STATUSES and until is not None and until > clock.now())
    return Entitlement(entitled=entitled, status=status, plan_code=plan_code, until=until, subscription_id=sub_id)
