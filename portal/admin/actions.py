"""What staff can do to a customer's billing, as services: each request is checked, written to the staff audit log
(who, when, what, from which address) and run by a job (workers.admin.run_staff_action) through the billing
services and machines, with actor `staff:<id>`. The job writes its progress and result onto the audit row, which
the admin page polls. Nothing here sets a status or money column of a billing aggregate.

A job may run twice (a worker killed half-way, an RQ retry): each body finds its own earlier work and does not
repeat it (the refund id and the charge attempt are remembered on the audit row).

What staff read while asking (refusals, checks, the action labels) is in the request's language. A job's result is
written by the worker, which has no reader and so no language: the row keeps it in English, with its msgid and values
beside it (result_message), and the pages show it in the reader's language (portal.admin.labels.action_result)."""
import logging
from dataclasses import dataclass

from flask_babel import gettext as _
from rq.job import Job
from sqlalchemy import select
from statemachine.exceptions import TransitionNotAllowed

from portal import clock
from portal.admin.labels import status_label, translated
from portal.billing import (
    cancellation,
    cards,
    charging,
    grants,
    notifications,
    pauses,
    plan_change,
    prices,
    refunds,
    review,
)
from portal.billing.errors import N_, BillingError, InvalidRequest, Message, NotAllowed, NotFound, Status
from portal.extensions import db
from portal.machines import atomic, lock
from portal.models import Invoice, Payment, Plan, Refund, StaffAction, Subscription, User, WebhookEvent
from portal.models.subscription import ENTITLED_STATUSES
from portal.money import format_money
from portal.queue import enqueue

log = logging.getLogger(__name__)

JOB = "workers.admin.run_staff_action"
QUEUED, RUNNING, RETRYING, SUCCEEDED, FAILED = "queued", "running", "retrying", "succeeded", "failed"
FINISHED = (SUCCEEDED, FAILED)
# What staff may extend or cut short: a subscription with access (a paused one has none to change).
LIVE = ENTITLED_STATUSES
MAX_REASON = 500
REPLAYABLE = ("received", "failed")


@dataclass(frozen=True)
class Staff:
    """Who asks and from where: everything the audit row needs about the request."""

    user: User
    remote_addr: str | None

    @property
    def actor(self) -> str:
        return f"staff:{self.user.id}"


def _money(amount: int, currency: str) -> str:
    """Money in staff messages: as people write it (RUB 299.00), never in minor units."""
    return format_money(amount, currency, "en")


def actor_of(action: StaffAction) -> str:
    return f"staff:{action.staff_user_id}"


def cause_of(action: StaffAction) -> str:
    """What the transitions row says caused it: the timeline links it back to this audit row."""
    reason = (action.details or {}).get("reason") or ""
    return f"staff action #{action.id} ({action.action})" + (f": {reason}" if reason else "")


def audit(staff: Staff, action: str, target_type: str, target_id, details: dict) -> StaffAction:
    """The audit row of a staff action, in the caller's transaction."""
    row = StaffAction(staff_user_id=staff.user.id, action=action, target_type=target_type, target_id=str(target_id),
                      details=details, remote_addr=(staff.remote_addr or "")[:64] or None, created_at=clock.now())
    db.session.add(row)
    db.session.flush()
    return row


def _start(staff: Staff, action: str, target_type: str, target_id, details: dict) -> StaffAction:
    """Record the request, commit it (the job reads it) and hand it to a job."""
    row = audit(staff, action, target_type, target_id, {**details, "state": QUEUED})
    db.session.commit()
    enqueue(JOB, row.id, job_id=f"staff-action-{row.id}")
    db.session.expire(row)
    return row


def _reason(reason: str | None, required: bool = False) -> str:
    reason = " ".join((reason or "").split())
    if required and not reason:
        raise InvalidRequest(_("Give a reason: it goes into the audit log and the timeline."))
    if len(reason) > MAX_REASON:
        raise InvalidRequest(_("Keep the reason under %(num)d characters.", num=MAX_REASON))
    return reason


def _subscription(subscription_id: int) -> Subscription:
    sub = db.session.get(Subscription, subscription_id)
    if sub is None:
        raise NotFound(_("subscription %(id)s does not exist", id=subscription_id))
    return sub


# --- cancel ----------------------------------------------------------------------------------------------------


def cancel_preview(sub: Subscription, when: str, refund: bool) -> dict:
    """What cancelling does, shown before staff confirm."""
    if when not in cancellation.WHEN:
        raise InvalidRequest(_("Choose when: now or at the end of the period."))
    if sub.status not in cancellation.LIVE:
        raise NotAllowed(_("Subscription %(id)s is already %(status)s.", id=sub.id,
                           status=status_label("subscription", sub.status)))
    if when == "period_end" and sub.status == "pending":
        raise NotAllowed(_("A subscription that was never paid has no period to end: cancel it now."))
    if when == "period_end" and sub.cancel_at_period_end:
        raise NotAllowed(_("This subscription is already set to end at the end of its period."))
    return {"refund_amount": cancellation.refund_if_cancelled_now(sub) if when == "now" and refund else 0}


def request_cancel(staff: Staff, subscription_id: int, when: str, *, refund: bool, reason: str) -> StaffAction:
    sub = _subscription(subscription_id)
    reason = _reason(reason)
    preview = cancel_preview(sub, when, refund)
    return _start(staff, "subscription.cancel", "subscription", sub.id,
                  {"when": when, "refund": bool(refund), "expected_refund": preview["refund_amount"],
                   "currency": sub.currency, "reason": reason})


def _run_cancel(action: StaffAction) -> str:
    d = action.details
    sub_id = int(action.target_id)
    cancellation.cancel(sub_id, d["when"], actor=actor_of(action), cause=cause_of(action), refund=d["refund"])
    db.session.expire_all()
    sub = db.session.get(Subscription, sub_id)
    if d["when"] == "period_end":
        return N_("Subscription %(id)s ends on %(date)s; auto-renew is off.", id=sub_id,
                  date=sub.current_period_end.date().isoformat())
    sent = db.session.scalars(select(Refund).join(Payment).join(Invoice).where(
        Invoice.subscription_id == sub_id, Refund.requested_by == actor_of(action),
        Refund.created_at >= action.created_at)).all()
    status = Status("subscription", sub.status)
    if not sent:
        return N_("Subscription %(id)s is %(status)s.", id=sub_id, status=status)
    refunds_sent = ", ".join(f"#{r.id} of {_money(r.amount, r.currency)} ({r.status})" for r in sent)
    return N_("Subscription %(id)s is %(status)s. Refund %(refunds)s.", id=sub_id, status=status, refunds=refunds_sent)


# --- refund ----------------------------------------------------------------------------------------------------


def refundable(payment: Payment) -> int:
    """What can still be refunded of a payment: its amount less what is refunded or being refunded."""
    if payment.status != "completed":
        return 0
    pending = sum(r.amount for r in payment.refunds if r.status == "pending")
    return max(0, payment.amount - payment.amount_refunded - pending)


def refund_preview(payment: Payment, amount: int) -> dict:
    left = refundable(payment)
    if payment.status != "completed":
        raise NotAllowed(_("Payment %(id)s is %(status)s: only a completed payment can be refunded.", id=payment.id,
                           status=status_label("payment", payment.status)))
    if amount <= 0:
        raise InvalidRequest(_("The refund must be more than zero."))
    if amount > left:
        raise InvalidRequest(_("At most %(left)s of this payment can still be refunded; %(asked)s was asked.",
                               left=_money(left, payment.currency), asked=_money(amount, payment.currency)))
    invoice, sub = payment.invoice, payment.invoice.subscription if payment.invoice else None
    # A refund that clears the invoice of the subscription's current period takes the period back.
    ends_access = bool(
        invoice is not None and sub is not None and sub.status in LIVE and invoice.status == "paid"
        and invoice.period_end == sub.current_period_end and amount >= invoice.amount - invoice.amount_refunded)
    return {"refundable": left, "full": amount == left, "ends_access": ends_access}


def request_refund(staff: Staff, payment_id: int, amount: int, *, reason: str) -> StaffAction:
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise NotFound(_("payment %(id)s does not exist", id=payment_id))
    reason = _reason(reason, required=True)
    preview = refund_preview(payment, amount)
    return _start(staff, "payment.refund", "payment", payment.id,
                  {"amount": amount, "currency": payment.currency, "reason": reason, "full": preview["full"],
                   "subscription_id": payment.invoice.subscription_id if payment.invoice else None})


def _run_refund(action: StaffAction) -> str:
    d = action.details
    with atomic():
        row = lock(StaffAction, action.id)
        refund_id = row.details.get("refund_id")
        if refund_id is None:
            payment = lock(Payment, int(row.target_id))
            if payment.status != "completed":
                raise NotAllowed(N_("payment %(id)s is %(status)s", id=payment.id,
                                    status=Status("payment", payment.status)))
            if d["amount"] > refundable(payment):
                raise InvalidRequest(N_("only %(amount)s is still refundable",
                                        amount=_money(refundable(payment), payment.currency)))
            refund_id = refunds.request_refund(payment, d["amount"], reason=d["reason"],
                                               requested_by=actor_of(action)).id
            row.details = {**row.details, "refund_id": refund_id}
    refunds.send_refund(refund_id)  # the provider call; a stable request id, so a rerun cannot refund twice
    db.session.expire_all()
    refund = db.session.get(Refund, refund_id)
    return N_("Refund #%(id)s of %(amount)s is %(status)s.", id=refund.id,
              amount=_money(refund.amount, refund.currency), status=Status("refund", refund.status))


# --- grant days ------------------------------------------------------------------------------------------------


def grant_preview(sub: Subscription, days: int) -> dict:
    if not isinstance(days, int) or not 0 < days <= grants.MAX_GRANT_DAYS:
        raise InvalidRequest(_("Days must be a whole number from 1 to %(max)d.", max=grants.MAX_GRANT_DAYS))
    if sub.status not in LIVE:
        raise NotAllowed(_("Subscription %(id)s is %(status)s: only a live subscription can be extended.", id=sub.id,
                           status=status_label("subscription", sub.status)))
    from datetime import timedelta

    return {"new_end": sub.current_period_end + timedelta(days=days)}


def request_grant(staff: Staff, subscription_id: int, days: int, *, reason: str) -> StaffAction:
    sub = _subscription(subscription_id)
    reason = _reason(reason, required=True)
    grant_preview(sub, days)
    return _start(staff, "subscription.grant_days", "subscription", sub.id, {"days": days, "reason": reason})


def _run_grant(action: StaffAction) -> str | None:
    """One transaction: the audit row, the complimentary invoice and the extension commit together, so a
    second run of the job finds the action finished and grants nothing more."""
    with atomic():
        row = lock(StaffAction, action.id)
        if row.details.get("state") in FINISHED:
            return None
        sub = lock(Subscription, int(row.target_id))
        if sub.status not in LIVE:
            raise NotAllowed(N_("subscription %(id)s is %(status)s", id=sub.id,
                                status=Status("subscription", sub.status)))
        invoice = grants.extend_locked(sub, row.details["days"], actor=actor_of(row), cause=cause_of(row))
        end = invoice.period_end
        message = N_("Subscription %(id)s now runs until %(date)s (complimentary invoice %(invoice)s).", id=sub.id,
                     date=end.date().isoformat(), invoice=invoice.number)
        _finish(row, SUCCEEDED, message)
    return message


# --- retry the charge ------------------------------------------------------------------------------------------


def chargeable_invoice(sub: Subscription) -> Invoice | None:
    """The open renewal or repay invoice a past-due subscription owes (what the customer's "pay now" pays)."""
    return db.session.scalar(select(Invoice).where(
        Invoice.subscription_id == sub.id, Invoice.status == "open", Invoice.kind.in_(("renewal", "repay")))
        .order_by(Invoice.id.desc()).limit(1))


def retry_preview(sub: Subscription) -> dict:
    invoice = chargeable_invoice(sub)
    if sub.status != "past_due" or invoice is None:
        raise NotAllowed(_("Subscription %(id)s is %(status)s with nothing to charge.", id=sub.id,
                           status=status_label("subscription", sub.status)))
    if sub.payment_method_id is None:
        raise NotAllowed(_("The customer has no saved card: they have to pay through the checkout."))
    return {"invoice": invoice, "card": sub.payment_method}


def request_retry_charge(staff: Staff, subscription_id: int, *, reason: str) -> StaffAction:
    sub = _subscription(subscription_id)
    reason = _reason(reason)
    invoice = retry_preview(sub)["invoice"]
    return _start(staff, "subscription.retry_charge", "subscription", sub.id,
                  {"invoice_id": invoice.id, "attempt": (invoice.attempt_count or 0) + 1, "amount": invoice.amount,
                   "currency": invoice.currency, "reason": reason})


def _run_retry_charge(action: StaffAction) -> str:
    """A declined retry is the action's failure, with the bank's reason: staff see it in red, not as done."""
    d = action.details
    invoice = db.session.get(Invoice, d["invoice_id"])
    if invoice.status == "open" and (invoice.attempt_count or 0) >= d["attempt"]:
        # This action's attempt was made (by an earlier run of this job): report it, do not charge again.
        raise NotAllowed(_declined(invoice, d["attempt"]))
    outcome = charging.charge_invoice(d["invoice_id"], customer_present=True, actor=actor_of(action),
                                      cause=cause_of(action))
    if outcome is charging.ChargeOutcome.PAID:
        return N_("Invoice %(id)s is paid.", id=d["invoice_id"])
    if outcome is charging.ChargeOutcome.DECLINED:
        db.session.expire_all()
        raise NotAllowed(_declined(db.session.get(Invoice, d["invoice_id"]), d["attempt"]))
    raise NotAllowed(N_("Nothing was charged: %(outcome)s.", outcome=str(outcome)))


def _declined(invoice: Invoice, attempt: int) -> str:
    payment = db.session.scalar(select(Payment).where(Payment.invoice_id == invoice.id, Payment.status == "declined")
                                .order_by(Payment.id.desc()).limit(1))
    values = {"attempt": attempt, "invoice": invoice.number, "amount": _money(invoice.amount, invoice.currency)}
    if payment is not None and payment.reason_code:
        return N_("Attempt %(attempt)s on invoice %(invoice)s (%(amount)s) was declined: %(why)s (code %(code)s); the "
                  "invoice is still open.", why=payment.reason or "declined", code=payment.reason_code, **values)
    if payment is not None and payment.reason:
        return N_("Attempt %(attempt)s on invoice %(invoice)s (%(amount)s) was declined: %(why)s; the invoice is still "
                  "open.", why=payment.reason, **values)
    return N_("Attempt %(attempt)s on invoice %(invoice)s (%(amount)s) was declined; the invoice is still open.",
              **values)


# --- change plan -----------------------------------------------------------------------------------------------


def change_plan_preview(sub: Subscription, plan_code: str, when: str | None) -> plan_change.PlanChange | None:
    """What the change does (the prorated amount charged now, or the date it takes effect); None when the plan
    named is the current one and a scheduled change is undone."""
    if sub.scheduled_plan_id is not None and plan_code == sub.plan.code and when != "now":
        return None
    return plan_change.preview(sub, plan_code, when or None)


def request_change_plan(staff: Staff, subscription_id: int, plan_code: str, when: str | None, *,
                        reason: str) -> StaffAction:
    sub = _subscription(subscription_id)
    reason = _reason(reason, required=True)
    change = change_plan_preview(sub, plan_code, when)
    details = {"plan": plan_code, "from_plan": sub.plan.code, "reason": reason, "currency": sub.currency}
    if change is None:
        details.update(when="period_end", undo=True, amount=0)
    else:
        details.update(when=change.when, direction=change.quote.direction, amount=change.quote.amount)
    return _start(staff, "subscription.change_plan", "subscription", sub.id, details)


def _run_change_plan(action: StaffAction) -> str:
    d = action.details
    with atomic():
        change = plan_change.request_plan_change(int(action.target_id), d["plan"], d["when"], actor=actor_of(action),
                                                 cause=cause_of(action))
    if d.get("undo"):
        return N_("The scheduled plan change of subscription %(id)s is being undone; it stays on %(plan)s.",
                  id=action.target_id, plan=d["plan"])
    if change.invoice is not None:
        due = _money(change.invoice.amount, change.invoice.currency)
        if change.charging_card:
            return N_("Proration invoice %(invoice)s of %(amount)s is open: the saved card is being charged. The plan "
                      "changes to %(plan)s once it is paid.", invoice=change.invoice.number, amount=due, plan=d["plan"])
        return N_("Proration invoice %(invoice)s of %(amount)s is open: the customer pays it from their account page. "
                  "The plan changes to %(plan)s once it is paid.", invoice=change.invoice.number, amount=due,
                  plan=d["plan"])
    if change.when == "period_end":
        return N_("Subscription %(id)s changes to %(plan)s at its period end.", id=action.target_id, plan=d["plan"])
    return N_("Subscription %(id)s is changing to %(plan)s now (nothing to pay).", id=action.target_id, plan=d["plan"])


# --- pause and resume -------------------------------------------------------------------------------------------


def pause_preview(sub: Subscription, months: int) -> dict:
    """What pausing does: from the period end for whole months, then a new period charged on the saved card."""
    refusal = pauses.pause_refusal(sub, months)
    if refusal is not None:
        error = InvalidRequest if months not in pauses.PAUSE_MONTHS else NotAllowed
        text = translated(refusal)
        raise error(text[:1].upper() + text[1:] + ".")
    from portal.billing.periods import add_interval

    return {"starts_at": sub.current_period_end, "resumes_at": add_interval(sub.current_period_end, "month", months)}


def request_pause(staff: Staff, subscription_id: int, months: int, *, reason: str) -> StaffAction:
    sub = _subscription(subscription_id)
    reason = _reason(reason, required=True)
    preview = pause_preview(sub, months)
    return _start(staff, "subscription.pause", "subscription", sub.id,
                  {"months": months, "starts_at": preview["starts_at"].isoformat(),
                   "resumes_at": preview["resumes_at"].isoformat(), "reason": reason})


def _run_pause(action: StaffAction) -> str:
    d = action.details
    pauses.schedule_pause(int(action.target_id), d["months"], actor=actor_of(action), cause=cause_of(action))
    sub = db.session.get(Subscription, int(action.target_id))
    db.session.refresh(sub)
    if sub.pause_starts_at is None:
        raise NotAllowed(N_("Subscription %(id)s could not be paused: it is %(status)s.", id=sub.id,
                            status=Status("subscription", sub.status)))
    return N_("Subscription %(id)s pauses on %(start)s and resumes on %(end)s.", id=sub.id,
              start=sub.pause_starts_at.date().isoformat(), end=sub.resumes_at.date().isoformat())


def resume_preview(sub: Subscription) -> dict:
    if sub.status == "paused":
        return {"paused": True, "amount": sub.amount, "currency": sub.currency, "card": sub.payment_method}
    if sub.status == "active" and sub.pause_starts_at is not None:
        return {"paused": False, "starts_at": sub.pause_starts_at}
    raise NotAllowed(_("Subscription %(id)s is %(status)s and no pause is scheduled.", id=sub.id,
                           status=status_label("subscription", sub.status)))


def request_resume(staff: Staff, subscription_id: int, *, reason: str) -> StaffAction:
    sub = _subscription(subscription_id)
    reason = _reason(reason, required=True)
    preview = resume_preview(sub)
    return _start(staff, "subscription.resume", "subscription", sub.id, {"paused": preview["paused"], "reason": reason})


def _run_resume(action: StaffAction) -> str:
    pauses.resume_or_unschedule(int(action.target_id), actor=actor_of(action), cause=cause_of(action))
    if action.details.get("paused"):
        return N_("Subscription %(id)s resumed; its new period is being charged on the saved card.",
                  id=action.target_id)
    return N_("The scheduled pause of subscription %(id)s is taken back.", id=action.target_id)


# --- the renewal card ------------------------------------------------------------------------------------------


def remove_card_preview(sub: Subscription) -> dict:
    if sub.payment_method_id is None:
        raise NotAllowed(_("Subscription %(id)s has no saved card.", id=sub.id))
    if sub.status not in (*LIVE, "paused"):
        raise NotAllowed(_("Subscription %(id)s is %(status)s.",
                           id=sub.id, status=status_label("subscription", sub.status)))
    return {"card": sub.payment_method}


def request_remove_card(staff: Staff, subscription_id: int, *, reason: str) -> StaffAction:
    sub = _subscription(subscription_id)
    reason = _reason(reason, required=True)
    card = remove_card_preview(sub)["card"]
    return _start(staff, "subscription.remove_card", "subscription", sub.id,
                  {"card": card.card_mask, "payment_method_id": card.id, "reason": reason})


def _run_remove_card(action: StaffAction) -> str:
    cards.remove_card(int(action.target_id), action.details["payment_method_id"], actor=actor_of(action),
                      cause=cause_of(action))
    return N_("Subscription %(id)s has no renewal card now (%(card)s was removed): the customer adds a card or pays "
              "the next invoice from their account page.", id=action.target_id, card=action.details["card"])


def replace_card_preview(sub: Subscription) -> dict:
    """A card check the customer opens from a link (the account page's Replace card, for a customer who
    cannot find it or asked support): refused where the customer's own button would be."""
    if sub.status not in cards.REPLACEABLE:
        raise NotAllowed(_("Subscription %(id)s is %(status)s: only a live subscription's card can be replaced.",
                           id=sub.id,
                           status=status_label("subscription", sub.status)))
    return {"card": sub.payment_method}


def request_card_replacement(staff: Staff, subscription_id: int, *, reason: str) -> StaffAction:
    sub = _subscription(subscription_id)
    reason = _reason(reason, required=True)
    card = replace_card_preview(sub)["card"]
    return _start(staff, "subscription.replace_card", "subscription", sub.id,
                  {"card": card.card_mask if card is not None else None, "reason": reason})


def _run_card_replacement(action: StaffAction) -> str:
    """The subscription's open card check (the one the customer's own button would open, reused while it lives),
    mailed to the customer as a pay link that lets them in to that one page without the password."""
    from portal.billing.pay_requests import request_card_check
    from portal.mail.links import PAY_LINK_FOR, pay_link

    with atomic():
        check = request_card_check(int(action.target_id))
        row = lock(StaffAction, action.id)
        row.details = {**row.details, "invoice_id": check.id}
    return N_("Card check #%(id)s is open and its link was mailed to the customer. The link, to send it another way "
              "(it opens the card check, without the password, for %(days)s days): %(link)s", id=check.id,
              days=PAY_LINK_FOR.days, link=pay_link(check))


# --- resubscribe ----------------------------------------------------------------------------------------------


def resubscribe_preview(sub: Subscription, plan_code: str) -> dict:
    """A new checkout for the customer of an ended subscription, as the catalogue's Subscribe makes: refused
    while the customer has a live subscription or the plan is not on sale (checkout.start_checkout decides
    again when the job runs)."""
    from portal.models.subscription import LIVE_STATUSES

    if sub.status not in ("canceled", "expired"):
        raise NotAllowed(_("Subscription %(id)s is %(status)s: only after it ended can the customer resubscribe.",
                           id=sub.id,
                           status=status_label("subscription", sub.status)))
    live = db.session.scalar(select(Subscription).where(Subscription.customer_id == sub.customer_id,
                                                        Subscription.status.in_(LIVE_STATUSES)).limit(1))
    if live is not None:
        raise NotAllowed(_("The customer has subscription %(id)s (%(status)s) already.", id=live.id,
                           status=status_label("subscription", live.status)))
    plan = db.session.scalar(select(Plan).where(Plan.code == plan_code))
    if plan is None or not plan.is_active:
        raise InvalidRequest(_("No plan with code %(code)s is on sale.", code=repr(plan_code)))
    return {"plan": plan}


def request_resubscribe(staff: Staff, subscription_id: int, plan_code: str, *, reason: str) -> StaffAction:
    sub = _subscription(subscription_id)
    reason = _reason(reason, required=True)
    plan = resubscribe_preview(sub, plan_code)["plan"]
    return _start(staff, "customer.resubscribe", "subscription", sub.id,
                  {"plan": plan.code, "customer_id": sub.customer_id, "reason": reason})


def _run_resubscribe(action: StaffAction) -> str:
    """The customer's checkout of the plan (a pending subscription and its open invoice, reused while it lives,
    with a trial only if the customer never had one), its pay link mailed to the customer."""
    from portal.billing.pay_requests import request_checkout
    from portal.mail.links import PAY_LINK_FOR, pay_link

    d = action.details
    with atomic():
        new, invoice = request_checkout(db.session.get(User, d["customer_id"]), d["plan"])
        row = lock(StaffAction, action.id)
        row.details = {**row.details, "subscription_id": new.id, "invoice_id": invoice.id}
    values = {"id": new.id, "plan": d["plan"], "invoice": invoice.number, "days": PAY_LINK_FOR.days,
              "link": pay_link(invoice)}
    if invoice.kind == "verification":
        return N_("Checkout #%(id)s of %(plan)s is open (a free trial after a card check, invoice %(invoice)s) and its "
                  "link was mailed to the customer. The link, to send it another way (it opens the payment, without "
                  "the password, for %(days)s days): %(link)s", **values)
    return N_("Checkout #%(id)s of %(plan)s is open (%(amount)s, invoice %(invoice)s) and its link was mailed to the "
              "customer. The link, to send it another way (it opens the payment, without the password, for %(days)s "
              "days): %(link)s", amount=_money(invoice.amount, invoice.currency), **values)


# --- price moves -----------------------------------------------------------------------------------------------


def request_price_move(staff: Staff, subscription_id: int, *, reason: str) -> StaffAction:
    sub = _subscription(subscription_id)
    reason = _reason(reason, required=True)
    move = prices.preview(sub)
    return _start(staff, "subscription.move_price", "subscription", sub.id,
                  {"from_amount": sub.amount, "amount": move.amount, "currency": move.currency, "reason": reason,
                   "effective_from": move.effective_from.isoformat(),
                   "first_renewal_at": move.first_renewal_at.isoformat()})


def _run_price_move(action: StaffAction) -> str:
    d = action.details
    with atomic():
        sub = lock(Subscription, int(action.target_id))
        if sub.scheduled_amount != d["amount"]:  # a second run finds the move made
            prices.move_to_plan_price(sub.id, actor=actor_of(action), cause=cause_of(action))
        renewal = prices.first_renewal_from(sub, sub.price_change_from)
    return N_("Subscription %(id)s pays %(amount)s from its renewal on %(date)s; the customer has been notified.",
              id=action.target_id, amount=_money(d["amount"], d["currency"]), date=renewal.date().isoformat())


def plan_price_move_preview(plan: Plan) -> dict:
    ids = prices.subscriptions_off_price(plan.id)
    if not ids:
        raise NotAllowed(_("Every live subscription of %(plan)s pays its price or is moving to it already.",
                           plan=plan.code))
    return {"count": len(ids), "notice_days": prices.notice().days}


def request_plan_price_move(staff: Staff, plan_id: int, *, reason: str) -> StaffAction:
    plan = db.session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(_("plan %(id)s does not exist", id=plan_id))
    reason = _reason(reason, required=True)
    preview = plan_price_move_preview(plan)
    return _start(staff, "plan.move_subscribers_to_price", "plan", plan.id,
                  {"amount": plan.amount, "currency": plan.currency, "count": preview["count"], "reason": reason})


def _run_plan_price_move(action: StaffAction) -> str:
    """Each subscription moves in its own transaction; a second run moves only those not moving yet."""
    moved = 0
    for sub_id in prices.subscriptions_off_price(int(action.target_id)):
        with atomic():
            try:
                prices.move_to_plan_price(sub_id, actor=actor_of(action), cause=cause_of(action))
                moved += 1
            except NotAllowed:
                continue
    d = action.details
    return N_("Subscriptions moving to %(amount)s at their first renewal after %(days)s days of notice: %(num)s.",
              num=moved, amount=_money(d["amount"], d["currency"]), days=prices.notice().days)


# --- what can be offered ---------------------------------------------------------------------------------------


def offered(sub: Subscription) -> list[tuple[str, str]]:
    """The subscription page's actions that can apply now, as (endpoint, label): an action whose preview would
    refuse (and answer 409) is not offered."""
    candidates = (
        ("admin.cancel", _("Cancel…"), lambda: cancel_preview(sub, "now", False)),
        ("admin.grant", _("Grant extra days…"), lambda: grant_preview(sub, 1)),
        ("admin.retry_charge", _("Retry the charge now…"), lambda: retry_preview(sub)),
        ("admin.change_plan", _("Change plan…"), lambda: _plan_change_possible(sub)),
        ("admin.pause", _("Pause…"), lambda: pause_preview(sub, pauses.PAUSE_MONTHS[0])),
        ("admin.resume", _("Resume…"), lambda: resume_preview(sub)),
        ("admin.remove_card", _("Remove the card…"), lambda: remove_card_preview(sub)),
        ("admin.replace_card", _("Replace the card…"), lambda: replace_card_preview(sub)),
        ("admin.resubscribe", _("Resubscribe…"), lambda: resubscribe_preview(sub, sub.plan.code)),
        ("admin.move_price", _("Move to the plan’s price…"), lambda: prices.preview(sub)),
    )
    available = []
    for endpoint, label, preview in candidates:
        try:
            preview()
        except BillingError:
            continue
        available.append((endpoint, label))
    return available


def _plan_change_possible(sub: Subscription) -> None:
    if sub.status not in ("active", "trialing") and sub.scheduled_plan_id is None:
        raise NotAllowed(_("Subscription %(id)s is %(status)s: only an active or trialing one changes plan.", id=sub.id,
                           status=status_label("subscription", sub.status)))


# --- replay a webhook ------------------------------------------------------------------------------------------


def request_webhook_replay(staff: Staff, event_id: int) -> StaffAction:
    event = db.session.get(WebhookEvent, event_id)
    if event is None:
        raise NotFound(_("webhook event %(id)s does not exist", id=event_id))
    if event.status not in REPLAYABLE:
        raise NotAllowed(_("Notification #%(id)s is %(status)s: only received or failed ones are replayed.",
                           id=event.id,
                           status=status_label("webhook", event.status)))
    return _start(staff, "webhook.replay", "webhook_event", event.id,
                  {"kind": event.kind, "status_before": event.status, "error_before": event.error})


def _run_webhook_replay(action: StaffAction) -> str:
    event_id = int(action.target_id)
    status = notifications.replay(event_id)
    if status == "processed":
        return N_("Notification #%(id)s is processed.", id=event_id)
    event = db.session.get(WebhookEvent, event_id)
    if event.error:
        raise InvalidRequest(N_("Notification #%(id)s is %(status)s: %(error)s", id=event_id,
                                status=Status("webhook", status), error=event.error))
    raise InvalidRequest(N_("Notification #%(id)s is %(status)s: no error recorded", id=event_id,
                            status=Status("webhook", status)))


# --- resolve a payment held for review -------------------------------------------------------------------------


def review_preview(payment: Payment, resolution: str, invoice_id: int | None) -> dict:
    """What resolving a held payment would do, checked before the job is queued."""
    if resolution not in review.RESOLUTIONS:
        raise InvalidRequest(_("Choose how to resolve it: refund, attach to an invoice, or dismiss."))
    review.held(payment.id)
    if resolution == "refund":
        review.refund_check(payment)
        return {"amount": review.refundable_now(payment)}
    if resolution == "attach":
        return {"invoice": review.attach_check(payment, invoice_id)}
    return {}


def request_review_resolution(staff: Staff, payment_id: int, resolution: str, *, note: str,
                              invoice_id: int | None = None) -> StaffAction:
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise NotFound(_("payment %(id)s does not exist", id=payment_id))
    note = _reason(note, required=True)
    preview = review_preview(payment, resolution, invoice_id)
    details = {"reason": note, "review_reason": payment.review_reason, "amount": payment.amount,
               "currency": payment.currency}
    if resolution == "attach":
        details["invoice_id"] = preview["invoice"].id
    return _start(staff, f"payment.review.{resolution}", "payment", payment.id, details)


def _run_review_refund(action: StaffAction) -> str:
    with atomic():  # the refund and the audit row's memory of it commit together: a rerun finds it
        row = lock(StaffAction, action.id)
        refund_id = row.details.get("refund_id")
        if refund_id is None:
            refund_id = review.start_refund(int(row.target_id), note=row.details["reason"], actor=actor_of(row))
            row.details = {**row.details, "refund_id": refund_id}
    refunds.send_refund(refund_id)  # a stable request id: a rerun cannot refund twice
    db.session.expire_all()
    return review.refund_outcome(refund_id)


def _run_review_attach(action: StaffAction) -> str:
    return review.attach(int(action.target_id), action.details["invoice_id"], note=action.details["reason"],
                         actor=actor_of(action), cause=cause_of(action))


def _run_review_dismiss(action: StaffAction) -> str:
    return review.dismiss(int(action.target_id), note=action.details["reason"], actor=actor_of(action),
                          cause=cause_of(action))


# --- the job ---------------------------------------------------------------------------------------------------

RUNNERS = {
    "subscription.cancel": _run_cancel,
    "payment.refund": _run_refund,
    "subscription.grant_days": _run_grant,
    "subscription.retry_charge": _run_retry_charge,
    "subscription.change_plan": _run_change_plan,
    "subscription.pause": _run_pause,
    "subscription.resume": _run_resume,
    "subscription.remove_card": _run_remove_card,
    "subscription.replace_card": _run_card_replacement,
    "customer.resubscribe": _run_resubscribe,
    "subscription.move_price": _run_price_move,
    "plan.move_subscribers_to_price": _run_plan_price_move,
    "webhook.replay": _run_webhook_replay,
    "payment.review.refund": _run_review_refund,
    "payment.review.attach": _run_review_attach,
    "payment.review.dismiss": _run_review_dismiss,
}
# A refusal is the answer, not a passing problem: the job ends without RQ retrying it.
REFUSALS = (BillingError, TransitionNotAllowed, ValueError, LookupError)


def stored_message(message: Message) -> dict:
    """A result's msgid and values as the audit row keeps them (JSON), for the staff pages to translate."""
    values = {}
    for name, value in message.values.items():
        if isinstance(value, Status):
            values[name] = {"status": str(value), "kind": value.kind}
        else:
            values[name] = value if value is None or isinstance(value, int | float | str) else str(value)
    return {"msgid": message.template, "values": values}


def _finish(row: StaffAction, state: str, message: str) -> None:
    """The action's end on its row: the result in English (as written, in exports too) and, when it is one of
    billing's messages, its msgid and values, which the pages read in their language (labels.action_result)."""
    details = {**row.details, "state": state, "result": message[:2000]}
    details.pop("result_message", None)
    if isinstance(message, Message):
        details["result_message"] = stored_message(message)
    if state in FINISHED:
        details["finished_at"] = clock.now().isoformat()
    row.details = details


def _set(action_id: int, state: str, message: str | None = None) -> None:
    with atomic():
        row = lock(StaffAction, action_id)
        if message is None:
            row.details = {**row.details, "state": state}
        else:
            _finish(row, state, message)


def perform(action_id: int) -> str | None:
    """Job body: run one staff action and record how it ended on its audit row."""
    action = db.session.get(StaffAction, action_id)
    if action is None or action.action not in RUNNERS:
        return None
    if action.details.get("state") in FINISHED:
        return action.details.get("result")
    _set(action_id, RUNNING)
    try:
        message = RUNNERS[action.action](action)
    except REFUSALS as exc:
        db.session.rollback()
        message = getattr(exc, "message", None) or str(exc)
        _set(action_id, FAILED, message)
        return message
    except Exception as exc:
        db.session.rollback()
        # A passing problem (provider away, database restarted): RQ runs the job again; the row says so.
        _set(action_id, RETRYING, f"{type(exc).__name__}: {exc}")
        raise
    if message is not None:
        _set(action_id, SUCCEEDED, message)
    return message


# --- actions that need no job ----------------------------------------------------------------------------------


def requeue_failed_job(staff: Staff, job_id: str) -> StaffAction:
    """Put a failed RQ job back on its queue."""
    from portal.queue import job_queues

    queue = next((queue for queue in job_queues() if job_id in queue.failed_job_registry.get_job_ids()), None)
    if queue is None:
        raise NotFound(_("no failed job %(id)s", id=repr(job_id)))
    job = Job.fetch(job_id, connection=queue.connection)
    queue.failed_job_registry.requeue(job_id)
    row = audit(staff, "job.requeue", "rq_job", job_id[:64], {"func": job.func_name, "args": repr(job.args)[:200]})
    db.session.commit()
    return row
