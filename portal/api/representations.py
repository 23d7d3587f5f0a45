"""How billing records look on the wire: money in minor units with its currency, times ISO 8601 UTC."""
from datetime import UTC, datetime

from flask import request

from portal.billing.endings import why_ended
from portal.billing.entitlement import Entitlement
from portal.models import Invoice, Plan, Subscription
from portal.templating import SUPPORTED_LOCALES


def utc(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def language() -> str:
    """The language plans are named in: ?lang=, else Accept-Language, else Russian (as the pages)."""
    asked = request.args.get("lang")
    if asked in SUPPORTED_LOCALES:
        return asked
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or SUPPORTED_LOCALES[0]


def plan(found: Plan) -> dict:
    lang = language()
    return {"code": found.code, "name": found.name_in(lang), "description": found.description_in(lang)}


def subscription(sub: Subscription) -> dict:
    card = sub.payment_method
    return {
        "id": sub.id,
        "status": sub.status,
        "plan": plan(sub.plan),
        "customer": {"external_id": sub.customer.external_id, "email": sub.customer.email},
        "amount": sub.amount,
        "currency": sub.currency,
        "current_period_start": utc(sub.current_period_start),
        "current_period_end": utc(sub.current_period_end),
        "trial_end": utc(sub.trial_end),
        "cancel_at_period_end": bool(sub.cancel_at_period_end),
        "canceled_at": utc(sub.canceled_at),
        "ended_at": utc(sub.ended_at),
        "ending": {"at": utc(sub.ended_at), "reason": why_ended(sub)} if sub.ended_at is not None else None,
        "trial_refusal": sub.trial_refusal,
        "card": {"mask": card.card_mask, "exp": card.card_exp} if card is not None else None,
        "pause": ({"starts_at": utc(sub.pause_starts_at), "resumes_at": utc(sub.resumes_at)}
                  if sub.resumes_at is not None else None),
        "scheduled_plan": (plan(sub.scheduled_plan) if sub.scheduled_plan_id is not None else None),
        "scheduled_price": ({"amount": sub.scheduled_amount, "effective_from": utc(sub.price_change_from)}
                            if sub.scheduled_amount is not None else None),
    }


def invoice(inv: Invoice) -> dict:
    return {
        "id": inv.id,
        "number": inv.number,
        "kind": inv.kind,
        "status": inv.status,
        "amount": inv.amount,
        "currency": inv.currency,
        "amount_refunded": inv.amount_refunded or 0,
        "period_start": utc(inv.period_start),
        "period_end": utc(inv.period_end),
        "attempt_count": inv.attempt_count or 0,
        "next_attempt_at": utc(inv.next_attempt_at),
    }


def entitlement(found: Entitlement) -> dict:
    return {
        "entitled": found.entitled,
        "status": found.status,
        "plan": found.plan_code,
        "until": utc(found.until),
        "subscription_id": found.subscription_id,
    }
