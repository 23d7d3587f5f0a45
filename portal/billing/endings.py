"""Why a subscription ended, in one word of a fixed vocabulary, read from the transition that ended it (who
fired it, from which state): what the account page explains and the JSON API reports."""
from sqlalchemy import select

from portal.extensions import db
from portal.models import Subscription, Transition
from portal.models.subscription import ENDED_STATUSES

# Every reason an ended subscription can have (portal/account/labels.py ENDING words each of them).
END_REASONS = ("checkout_unpaid", "checkout_canceled", "auto_renew_off", "payment_failed", "by_customer",
               "trial_canceled", "by_staff", "by_platform")


def end_reason(status: str, source: str, actor: str) -> str:
    """The reason for an end in `status` (canceled or expired) reached from `source` by `actor`."""
    if source == "pending":
        return "checkout_unpaid" if status == "expired" else "checkout_canceled"
    if status == "expired":
        return "payment_failed"
    if actor.startswith("job:"):
        return "auto_renew_off"
    if actor.startswith("customer:"):
        return "trial_canceled" if source == "trialing" else "by_customer"
    if actor.startswith("staff:"):
        return "by_staff"
    return "by_platform"


def ending_transition(sub: Subscription) -> Transition | None:
    """The transition that ended `sub`; None while it lives."""
    if sub.status not in ENDED_STATUSES:
        return None
    return db.session.scalar(select(Transition).where(
        Transition.entity_type == "subscription", Transition.entity_id == sub.id,
        Transition.to_state == sub.status).order_by(Transition.id.desc()).limit(1))


def reason_of(sub: Subscription, last: Transition | None) -> str:
    """Why `sub` ended, from its ending transition (a row loaded without its timeline reads as ended from active)."""
    source, actor = (last.from_state, last.actor) if last is not None else ("active", "")
    return end_reason(sub.status, source, actor)


def why_ended(sub: Subscription) -> str | None:
    """One of END_REASONS for an ended subscription, None while it lives."""
    if sub.status not in ENDED_STATUSES:
        return None
    return reason_of(sub, ending_transition(sub))
