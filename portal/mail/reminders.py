"""The reminder tick: a trial ending in 3 days, a yearly renewal in 7, a saved card expiring before the
next renewal. Each becomes an outbox event (`subscription.trial_ending|renewal_upcoming|card_expiring`,
the subscription as its data) once per subscription period, recorded in subscription_reminders in the
same transaction, under the subscription's row lock; its mail follows like any event's. Subscriptions
set to end (auto-renew off) or to pause get none."""
from datetime import timedelta

from sqlalchemy import not_, select
from sqlalchemy.exc import IntegrityError

from portal import clock
from portal.billing import cards
from portal.events import subscription_data
from portal.extensions import db
from portal.machines import atomic, lock_all
from portal.mail.billing import still_renews
from portal.mail.events import events_written
from portal.models import Plan, Subscription, SubscriptionReminder
from portal.models.messaging import OutboxMessage
from portal.ops import test_clock

TRIAL_NOTICE = timedelta(days=3)
RENEWAL_NOTICE = timedelta(days=7)
# A card that will have expired by the renewal is mentioned from this long before it (a month's period
# gets it at its start).
CARD_NOTICE = timedelta(days=30)
BATCH = 200


def _yearly(plan: Plan) -> bool:
    return (plan.interval_unit == "year") or (plan.interval_unit == "month" and plan.interval_count % 12 == 0)


def due_kinds(sub: Subscription, now) -> list[str]:
    """The reminders a subscription is due now (its period's end decides), before the once-per-period check."""
    if not still_renews(sub, ("trialing", "active")) or sub.current_period_end <= now:
        return []
    ahead = sub.current_period_end - now
    kinds = []
    if sub.status == "trialing" and ahead <= TRIAL_NOTICE:
        kinds.append("trial_ending")
    if sub.status == "active" and ahead <= RENEWAL_NOTICE and _yearly(sub.plan):
        kinds.append("renewal_upcoming")
    if ahead <= CARD_NOTICE and cards.card_expires_before(sub, sub.current_period_end):
        kinds.append("card_expiring")
    return kinds


def reminders_due(now=None) -> int:
    """Write the reminder events due now; returns how many were written (a repeat of the tick writes none)."""
    now = now or clock.now()
    candidates = db.session.scalars(select(Subscription.id).where(
        Subscription.status.in_(("trialing", "active")), Subscription.cancel_at_period_end.is_(False),
        Subscription.pause_starts_at.is_(None),
        not_(test_clock.reached(Subscription.current_period_end, Subscription.customer_id, now)),
        test_clock.reached(Subscription.current_period_end, Subscription.customer_id,
                           now + max(TRIAL_NOTICE, RENEWAL_NOTICE, CARD_NOTICE)),
    ).order_by(Subscription.id)).all()
    db.session.rollback()
    written = 0
    for start in range(0, len(candidates), BATCH):
        with atomic():
            for sub in lock_all(Subscription, candidates[start:start + BATCH]).values():
                at = now + test_clock.offset_of(sub.customer_id)  # the customer's time (a test clock)
                for kind in due_kinds(sub, at):
                    written += _remind(sub, kind, at)
    return written


def _remind(sub: Subscription, kind: str, now) -> int:
    try:
        with db.session.begin_nested():
            db.session.add(SubscriptionReminder(subscription_id=sub.id, kind=kind, period_end=sub.current_period_end,
                                                created_at=now))
    except IntegrityError:
        return 0  # this period's reminder went out before
    db.session.add(OutboxMessage(routing_key=f"subscription.{kind}", aggregate_type="subscription",
                                 aggregate_id=sub.id, payload=subscription_data(sub), created_at=now,
                                 publish_attempts=0))
    events_written(db.session())
    return 1
