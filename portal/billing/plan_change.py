"""Change plan: an upgrade takes effect once its prorated price is paid (the saved card is charged at once;
without one, or when it declines, the customer pays the proration invoice in the widget); a downgrade is
scheduled for the period end, can be undone until then, and the renewal bills the new plan. The rule for
the amounts is portal/billing/proration.py.

Why the plan changes only once the proration is paid (Stripe's `pending_if_incomplete`): the customer
gets the dearer plan for what they paid, never for a debt we would have to dun or write off, and a
declined card leaves them exactly where they were, on the plan they paid for."""
from dataclasses import dataclass, replace

from sqlalchemy import select

from portal import clock
from portal.billing import proration
from portal.billing.errors import N_, InvalidRequest, NotAllowed, NotFound, Status
from portal.extensions import db
from portal.machines import atomic, fire, lock
from portal.models import Invoice, Plan, Subscription
from portal.money import format_money
from portal.queue import enqueue, enqueue_after_commit

WHEN = ("now", "period_end")
# A plan can be changed while these last; past due first pays what it owes.
CHANGEABLE = ("trialing", "active")


@dataclass(frozen=True)
class PlanChange:
    """What a requested change does: `when` it takes effect, at what price now (`quote.amount`), and the
    proration invoice to pay when there is one."""
    subscription: Subscription
    plan: Plan
    when: str
    quote: proration.Quote
    invoice: Invoice | None = None
    charging_card: bool = False  # the saved card is being charged for the invoice, in a job


def _subscription(subscription_id: int) -> Subscription:
    sub = db.session.get(Subscription, subscription_id)
    if sub is None:
        raise NotFound(f"subscription {subscription_id} does not exist")
    return sub


def _plan(plan_code) -> Plan:
    plan = db.session.scalar(select(Plan).where(Plan.code == str(plan_code or "")[:64]))
    if plan is None or not plan.is_active:
        raise NotFound(N_("no plan with code %(code)s is on sale", code=repr(str(plan_code)[:64])))
    return plan


def preview(sub: Subscription, plan_code: str, when: str | None = None) -> PlanChange:
    """What changing to `plan_code` would do now, before the customer confirms; refused with the reason
    when it cannot be done."""
    if when is not None and when not in WHEN:
        raise InvalidRequest(N_("when must be one of %(allowed)s, not %(asked)s", allowed=", ".join(WHEN),
                                asked=repr(when)))
    plan = _plan(plan_code)
    if sub.status not in CHANGEABLE:
        status = Status("subscription", sub.status)
        if sub.status == "past_due":
            raise NotAllowed(N_("subscription %(id)s is %(status)s: only a trialing or active subscription can change "
                                "plan (pay what is owed first)", id=sub.id, status=status))
        raise NotAllowed(N_("subscription %(id)s is %(status)s: only a trialing or active subscription can change "
                            "plan", id=sub.id, status=status))
    if plan.id == sub.plan_id:
        raise NotAllowed(N_("subscription %(id)s is on %(plan)s already", id=sub.id, plan=plan.code))
    if plan.currency != sub.currency:
        raise InvalidRequest(N_("plan %(plan)s is billed in %(plan_currency)s, the subscription in %(currency)s",
                                plan=plan.code, plan_currency=plan.currency, currency=sub.currency))
    quote = _quote(sub, plan)
    when = when or ("now" if quote.immediate else "period_end")
    if when == "now" and not quote.immediate:
        raise NotAllowed(N_("%(plan)s costs less than %(current)s: a downgrade takes effect at the period end "
                            "(%(date)s); ask for when=period_end", plan=plan.code, current=sub.plan.code,
                            date=sub.current_period_end.date().isoformat()))
    if when == "period_end" and sub.cancel_at_period_end:
        raise NotAllowed(N_("subscription %(id)s ends at its period end (auto-renew is off): turn auto-renew on "
                            "before scheduling a plan for the next period", id=sub.id))
    return PlanChange(sub, plan, when, quote)


def _quote(sub: Subscription, plan: Plan) -> proration.Quote:
    return proration.quote(old_plan=sub.plan, old_amount=sub.amount, new_plan=plan,
                           period_start=sub.current_period_start, period_end=sub.current_period_end,
                           at=clock.now(), trialing=sub.status == "trialing")


def request_plan_change(subscription_id: int, plan_code: str, when: str | None = None, *, actor: str,
                        cause: str) -> PlanChange:
    """Validate now; in the caller's transaction an upgrade gets its proration invoice (its saved card
    charged by a job after commit); every subscription transition runs in a job."""
    # Two requests of one subscription at once (double click, a retried call) queue up here.
    sub = lock(Subscription, subscription_id, missing_ok=True) or _subscription(subscription_id)
    if sub.scheduled_plan_id is not None and when != "now" and _plan(plan_code).id == sub.plan_id:
        # Back to the plan it is on: the scheduled change is undone.
        request_undo(sub.id, actor=actor, cause=cause)
        return PlanChange(sub, sub.plan, "period_end", proration.Quote(
            proration.SWITCH, clock.now(), 0, sub.currency, 0, 0, 0, None, None, False))
    change = preview(sub, plan_code, when)
    if change.when == "period_end" or change.quote.amount == 0:
        enqueue_after_commit(db.session(), "workers.subscriptions.change_plan", sub.id, change.plan.code,
                             change.when, actor=actor, cause=cause,
                             job_id=f"change-plan-{sub.id}-{change.plan.code}-{change.when}-{_moment()}")
        return change
    invoice = _proration_invoice(sub, change, actor=actor, cause=cause)
    charging = sub.payment_method_id is not None and not invoice.attempt_count
    if charging:
        enqueue_after_commit(db.session(), "workers.payments.charge_invoice", invoice.id, customer_present=True,
                             actor=actor, cause=cause, job_id=f"charge-invoice-{invoice.id}-attempt-1")
    # A reused invoice keeps the amount first quoted: that is what is charged, so what is answered.
    quote = replace(change.quote, amount=invoice.amount)
    return PlanChange(sub, change.plan, change.when, quote, invoice, charging)


def _moment() -> int:
    # Requests a second apart are separate jobs; a double click within one second is the same job.
    return int(clock.now().timestamp())


def _proration_invoice(sub: Subscription, change: PlanChange, *, actor: str, cause: str) -> Invoice:
    """The open proration invoice for this change, made once: asked again for the same plan, the open one is
    reused (its amount as first quoted); another plan's is voided and replaced."""
    for invoice in open_prorations(sub):
        if invoice.plan_id == change.plan.id:
            return invoice
        fire(lock(Invoice, invoice.id), "void_invoice", actor=actor,
             cause=f"{cause}: replaced by a change to {change.plan.code}")
    quote = change.quote
    price = format_money(quote.amount, quote.currency, "en")
    invoice = Invoice(subscription_id=sub.id, customer_id=sub.customer_id, kind="proration", status="open",
                      amount=quote.amount, currency=quote.currency, plan_id=change.plan.id,
                      period_start=quote.period_start if quote.new_period else quote.at,
                      period_end=quote.period_end, created_at=quote.at,
                      description=f"Change from {sub.plan.name_en} to {change.plan.name_en} ({price}, "
                                  f"{quote.unused_days} of {quote.period_days} days)"[:255])
    db.session.add(invoice)
    db.session.flush()
    return invoice


def open_prorations(sub: Subscription) -> list[Invoice]:
    return list(db.session.scalars(select(Invoice).where(
        Invoice.subscription_id == sub.id, Invoice.kind == "proration", Invoice.status == "open")
        .order_by(Invoice.id)))


def open_proration(sub: Subscription | None) -> Invoice | None:
    """The upgrade the customer has asked for and not paid yet, shown on their page."""
    if sub is None or sub.status not in CHANGEABLE:
        return None
    found = open_prorations(sub)
    return found[-1] if found else None


def change_plan(subscription_id: int, plan_code: str, when: str, *, actor: str, cause: str) -> str:
    """Job body: a change that needs no payment now (a downgrade scheduled, a change during a trial, an equal
    price). Safe to run twice: the second finds it made."""
    with atomic():
        sub = lock(Subscription, subscription_id)
        plan = _plan(plan_code)
        if sub.status not in CHANGEABLE:
            return f"subscription is {sub.status}"
        if when == "period_end":
            if sub.scheduled_plan_id == plan.id:
                return "scheduled already"
            _void_prorations(sub, actor, f"{cause}: {plan.code} scheduled instead")
            fire(sub, "schedule_plan_change", actor=actor, cause=cause, plan=plan)
            return "scheduled"
        if sub.plan_id == plan.id:
            return "changed already"
        _void_prorations(sub, actor, f"{cause}: changed to {plan.code}")
        quote = _quote(sub, plan)
        # A longer interval whose credit covers its price still starts its own period now.
        period = {"period_start": quote.period_start, "period_end": quote.period_end} if quote.new_period else {}
        fire(sub, "change_plan", actor=actor, cause=cause, plan=plan, **period)
        return "changed"


def request_undo(subscription_id: int, *, actor: str, cause: str) -> None:
    """Validate now, undo the scheduled change in a job."""
    sub = _subscription(subscription_id)
    if sub.scheduled_plan_id is None:
        raise NotAllowed(N_("subscription %(id)s has no plan change scheduled", id=subscription_id))
    enqueue("workers.subscriptions.undo_plan_change", sub.id, actor=actor, cause=cause,
            job_id=f"undo-plan-change-{sub.id}-{_moment()}")


def undo(subscription_id: int, *, actor: str, cause: str) -> str:
    with atomic():
        sub = lock(Subscription, subscription_id)
        if sub.scheduled_plan_id is None:
            return "nothing scheduled"
        fire(sub, "unschedule_plan_change", actor=actor, cause=cause)
        return "undone"


def open_prorations_of(sub_ids: list[int]) -> dict[int, list[Invoice]]:
    """The open proration invoices of many subscriptions, in one statement (a renewal run)."""
    found: dict[int, list[Invoice]] = {}
    if sub_ids:
        for invoice in db.session.scalars(select(Invoice).where(
                Invoice.subscription_id.in_(sub_ids), Invoice.kind == "proration", Invoice.status == "open")):
            found.setdefault(invoice.subscription_id, []).append(invoice)
    return found


def lapse(prorations: list[Invoice], *, actor: str) -> None:
    for invoice in prorations:
        fire(lock(Invoice, invoice.id), "void_invoice", actor=actor, cause="the period it was priced for ended")


def take_effect_at_period_end(sub: Subscription, prorations: list[Invoice], *, actor: str) -> None:
    """At the renewal (the subscription locked, its period ended): a scheduled change takes effect, so the
    renewal bills the new plan; an upgrade still unpaid (`prorations`, its open proration invoices) lapses with
    the period it was priced for."""
    lapse(prorations, actor=actor)
    if sub.scheduled_plan_id is not None:
        fire(sub, "change_plan", actor=actor, cause="scheduled plan change at the period end",
             plan=db.session.get(Plan, sub.scheduled_plan_id))


def _void_prorations(sub: Subscription, actor: str, cause: str) -> None:
    for invoice in open_prorations(sub):
        fire(lock(Invoice, invoice.id), "void_invoice", actor=actor, cause=cause)


def proration_paid(sub: Subscription, invoice: Invoice, *, actor: str, cause: str) -> None:
    """A paid proration invoice moves the subscription to its plan; an interval change starts the new
    plan's period the invoice covers."""
    if sub.status not in CHANGEABLE or sub.plan_id == invoice.plan_id:
        return
    plan = invoice.plan
    new_period = (plan.interval_unit, plan.interval_count) != (sub.plan.interval_unit, sub.plan.interval_count)
    period = {"period_start": invoice.period_start, "period_end": invoice.period_end} if new_period else {}
    fire(sub, "change_plan", actor=actor, cause=cause, plan=plan, **period)
