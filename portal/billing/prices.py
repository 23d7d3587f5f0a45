"""Price moves. A subscription keeps the price it was sold at when staff change its plan's price; staff then
move it to the plan's current price, with notice: the customer is told now (subscription.price_change_scheduled)
and pays the new price from the first renewal on or after the end of the notice (PRICE_CHANGE_NOTICE_DAYS).
A plan change before then supersedes the move (the new plan's price applies)."""
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from portal import clock
from portal.billing.errors import N_, NotAllowed, Status
from portal.billing.periods import anchored_period_end
from portal.extensions import db
from portal.machines import fire, lock
from portal.models import Subscription
from portal.models.subscription import LIVE_STATUSES


@dataclass(frozen=True)
class PriceMove:
    subscription: Subscription
    amount: int  # the new price, minor units of the subscription's currency
    currency: str
    effective_from: datetime  # the end of the notice
    first_renewal_at: datetime  # the renewal that first bills the new price


def notice() -> timedelta:
    return timedelta(days=current_app.config["PRICE_CHANGE_NOTICE_DAYS"])


def preview(sub: Subscription) -> PriceMove:
    """What moving `sub` to its plan's current price does; NotAllowed when there is nothing to move."""
    plan = sub.plan
    if sub.status not in LIVE_STATUSES or sub.current_period_end is None:
        raise NotAllowed(N_("Subscription %(id)s is %(status)s: only a live subscription changes price.", id=sub.id,
                            status=Status("subscription", sub.status)))
    if plan.currency != sub.currency:
        raise NotAllowed(N_("Plan %(plan)s is priced in %(plan_currency)s, subscription %(id)s in %(currency)s.",
                            plan=plan.code, plan_currency=plan.currency, id=sub.id, currency=sub.currency))
    if sub.scheduled_amount == plan.amount:
        raise NotAllowed(N_("Subscription %(id)s is already moving to the plan's price.", id=sub.id))
    if sub.amount == plan.amount and sub.scheduled_amount is None:
        raise NotAllowed(N_("Subscription %(id)s already pays the plan's price.", id=sub.id))
    effective_from = clock.now() + notice()
    return PriceMove(sub, plan.amount, sub.currency, effective_from, first_renewal_from(sub, effective_from))


def first_renewal_from(sub: Subscription, moment: datetime) -> datetime:
    """The first renewal of `sub` (a period end) on or after `moment`."""
    renewal = sub.current_period_end
    unit, count = sub.plan.interval_unit, sub.plan.interval_count
    while renewal < moment:
        renewal = anchored_period_end(sub.billing_anchor, renewal, unit, count)
    return renewal


def move_to_plan_price(sub_id: int, *, actor: str, cause: str) -> PriceMove:
    """Schedule the move of one subscription (locked here) to its plan's current price. Call inside atomic()."""
    sub = lock(Subscription, sub_id)
    move = preview(sub)
    fire(sub, "schedule_price_change", actor=actor, cause=cause, amount=move.amount,
         effective_from=move.effective_from)
    return move


def subscriptions_off_price(plan_id: int) -> list[int]:
    """Live subscriptions of a plan that pay another price than the plan's and are not moving to it."""
    from portal.models import Plan

    plan = db.session.get(Plan, plan_id)
    return db.session.scalars(select(Subscription.id).where(
        Subscription.plan_id == plan_id, Subscription.status.in_(LIVE_STATUSES),
        Subscription.currency == plan.currency, Subscription.amount != plan.amount,
        Subscription.scheduled_amount.is_distinct_from(plan.amount)).order_by(Subscription.id)).all()


def take_effect_at_renewal(sub: Subscription, *, actor: str) -> None:
    """At a renewal (the period end, `sub` locked): a move whose notice has run out sets the price billed now."""
    if sub.scheduled_amount is not None and sub.current_period_end >= sub.price_change_from:
        fire(sub, "apply_price_change", actor=actor, cause="price move: the notice has run out")


def price_at(sub: Subscription, renewal: datetime) -> int:
    """What the renewal at `renewal` bills, the price move counted."""
    if sub.scheduled_amount is not None and renewal >= sub.price_change_from:
        return sub.scheduled_amount
    return sub.amount


def renewal_amount(sub: Subscription, at: datetime | None = None) -> int:
    """What the next renewal bills, at the end of the current period unless `at` says when (a resume): the
    plan it changes to then (a plan change supersedes a price move), else its price with a move whose notice
    has run out by then. What pages and mails call the next payment."""
    if sub.scheduled_plan_id is not None:
        return sub.scheduled_plan.amount
    return price_at(sub, at or sub.current_period_end)
