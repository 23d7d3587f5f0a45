"""Routes of the JSON API. Each authenticates, validates, calls one billing service and renders."""
from flask import g, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.api import bp
from portal.api import representations as rep
from portal.api.auth import authenticate
from portal.api.bodies import json_body
from portal.api.idempotency import idempotent
from portal.api.openapi import DOCUMENT, ENTITLEMENT_MAX_AGE
from portal.billing import cancellation, pauses, plan_change, prices
from portal.billing.cards import start_card_replacement
from portal.billing.charging import request_repay
from portal.billing.checkout import checkout_provider, start_checkout, widget_parameters
from portal.billing.customers import upsert_customer
from portal.billing.entitlement import entitlement
from portal.billing.errors import NotFound
from portal.clock import now
from portal.extensions import db
from portal.machines import atomic
from portal.models import Invoice, Subscription, User

# Ids are PostgreSQL integers: a larger number in a path is simply not one of ours (not a 500).
MAX_ID = 2**31 - 1
MAX_EXTERNAL_ID = 128


@bp.before_request
def require_token():
    if request.endpoint != "api.openapi_document":
        authenticate()


@bp.after_request
def name_the_language(response):
    """Plan names in an answer follow the language asked for: say which, and that it varied on the header."""
    if request.endpoint != "api.openapi_document":
        response.headers["Content-Language"] = rep.language()
        response.vary.add("Accept-Language")
    return response


def _actor() -> str:
    return f"api:{g.api_client}"


def _cause() -> str:
    key = g.get("idempotency_key")
    return f"{request.method} {request.path}" + (f" (Idempotency-Key {key})" if key else "")


def _known_external_id(external_id: str) -> str:
    if len(external_id) > MAX_EXTERNAL_ID or any(ord(ch) < 32 or ord(ch) == 127 for ch in external_id):
        raise NotFound(f"no customer with external id {external_id!r}")
    return external_id


def _customer(external_id: str) -> User:
    customer = db.session.scalar(select(User).where(User.external_id == _known_external_id(external_id)))
    if customer is None:
        raise NotFound(f"no customer with external id {external_id!r}; customers are created by POST /api/v1/pay "
                       "or by the customer.upsert command")
    return customer


def _subscription(subscription_id: int, external_id: str | None = None) -> Subscription:
    """The subscription; under a customer's path only if it is that customer's (else it does not exist)."""
    sub = db.session.get(Subscription, subscription_id) if subscription_id <= MAX_ID else None
    if sub is not None and external_id is not None and sub.customer.external_id != external_id:
        sub = None
    if sub is None:
        owner = f" for customer {external_id!r}" if external_id is not None else ""
        raise NotFound(f"subscription {subscription_id} does not exist{owner}")
    return sub


@bp.post("/pay")
@idempotent
def pay():
    body = json_body("PayRequest")
    person = body["customer"]
    customer = upsert_customer(person["external_id"], person["email"], person.get("name"))
    sub, invoice = start_checkout(customer, body["plan"])
    return _widget_answer(sub, invoice), 201


def _widget_answer(sub: Subscription, invoice: Invoice) -> dict:
    """What a platform page needs to open the provider's widget on an invoice (PayResponse)."""
    widget = widget_parameters(invoice)  # first: it marks when the checkout started
    provider = checkout_provider(invoice)
    return {
        "subscription": rep.subscription(sub),
        "invoice": rep.invoice(invoice),
        "widget": widget,
        "widget_script_url": provider.widget_script_url,
        "provider": provider.name,
    }


@bp.get("/subscriptions/<int:subscription_id>")
@bp.get("/customers/<external_id>/subscriptions/<int:subscription_id>")
def get_subscription(subscription_id, external_id=None):
    return jsonify(rep.subscription(_subscription(subscription_id, external_id)))


@bp.get("/customers/<external_id>/subscriptions")
def list_customer_subscriptions(external_id):
    customer = _customer(external_id)
    subs = db.session.scalars(
        select(Subscription).where(Subscription.customer_id == customer.id)
        .options(selectinload(Subscription.plan), selectinload(Subscription.payment_method))
        .order_by(Subscription.created_at.desc(), Subscription.id.desc())
    ).all()
    return jsonify(subscriptions=[rep.subscription(sub) for sub in subs])


@bp.get("/customers/<external_id>/entitlement")
def customer_entitlement(external_id):
    found = entitlement(_known_external_id(external_id))
    if found is None:
        raise NotFound(f"no customer with external id {external_id!r} is known to billing")
    response = jsonify(rep.entitlement(found))
    response.headers["Cache-Control"] = _entitlement_cache_control(found)
    return response


def _entitlement_cache_control(found) -> str:
    """A grant may be reused briefly (never past its end); a refusal is not kept, so a payment that
    has just landed lets the customer watch at once."""
    if not found.entitled:
        return "no-store"
    max_age = ENTITLEMENT_MAX_AGE
    if found.status != "past_due" and found.until is not None:
        max_age = max(0, min(max_age, int((found.until - now()).total_seconds())))
    return f"private, max-age={max_age}"


@bp.post("/subscriptions/<int:subscription_id>/cancel")
@bp.post("/customers/<external_id>/subscriptions/<int:subscription_id>/cancel")
@idempotent
def cancel_subscription(subscription_id, external_id=None):
    when = json_body("CancelRequest", required=False).get("when", "period_end")
    sub = _subscription(subscription_id, external_id)
    refund = cancellation.refund_if_cancelled_now(sub) if when == "now" else None
    cancellation.request_cancel(sub.id, when, actor=_actor(), cause=_cause())
    return {"subscription": rep.subscription(sub), "when": when, "refund_amount": refund,
            "currency": sub.currency}, 202


@bp.post("/subscriptions/<int:subscription_id>/pause")
@bp.post("/customers/<external_id>/subscriptions/<int:subscription_id>/pause")
@idempotent
def pause_subscription(subscription_id, external_id=None):
    months = json_body("PauseRequest")["months"]
    sub = _subscription(subscription_id, external_id)
    pauses.request_pause(sub.id, months, actor=_actor(), cause=_cause())
    return {"subscription": rep.subscription(sub)}, 202


@bp.post("/subscriptions/<int:subscription_id>/resume")
@bp.post("/customers/<external_id>/subscriptions/<int:subscription_id>/resume")
@idempotent
def resume_subscription(subscription_id, external_id=None):
    json_body("ResumeRequest", required=False)
    sub = _subscription(subscription_id, external_id)
    pauses.request_resume(sub.id, actor=_actor(), cause=_cause())
    return {"subscription": rep.subscription(sub)}, 202


@bp.post("/subscriptions/<int:subscription_id>/card")
@bp.post("/customers/<external_id>/subscriptions/<int:subscription_id>/card")
@idempotent
def replace_subscription_card(subscription_id, external_id=None):
    json_body("CardCheckRequest", required=False)
    sub = _subscription(subscription_id, external_id)
    return _widget_answer(sub, start_card_replacement(sub)), 201


@bp.post("/subscriptions/<int:subscription_id>/change-plan")
@bp.post("/customers/<external_id>/subscriptions/<int:subscription_id>/change-plan")
@idempotent
def change_subscription_plan(subscription_id, external_id=None):
    body = json_body("ChangePlanRequest")
    sub = _subscription(subscription_id, external_id)
    change = plan_change.request_plan_change(sub.id, body["plan"], body.get("when"), actor=_actor(), cause=_cause())
    return {"subscription": rep.subscription(sub), "plan": rep.plan(change.plan),
            "when": change.when, "direction": change.quote.direction, "amount": change.quote.amount,
            "currency": change.quote.currency,
            "effective_at": rep.utc(sub.current_period_end) if change.when == "period_end" else None,
            "invoice": rep.invoice(change.invoice) if change.invoice is not None else None,
            "charging_card": change.charging_card}, 202


@bp.post("/subscriptions/<int:subscription_id>/move-price")
@bp.post("/customers/<external_id>/subscriptions/<int:subscription_id>/move-price")
@idempotent
def move_subscription_price(subscription_id, external_id=None):
    json_body("PriceMoveRequest", required=False)
    sub = _subscription(subscription_id, external_id)
    with atomic():
        move = prices.move_to_plan_price(sub.id, actor=_actor(), cause=_cause())
    return {"subscription": rep.subscription(sub), "amount": move.amount, "currency": move.currency,
            "effective_from": rep.utc(move.effective_from), "first_renewal_at": rep.utc(move.first_renewal_at)}, 200


@bp.post("/subscriptions/<int:subscription_id>/repay")
@bp.post("/customers/<external_id>/subscriptions/<int:subscription_id>/repay")
@idempotent
def repay_subscription(subscription_id, external_id=None):
    json_body("RepayRequest", required=False)
    sub = _subscription(subscription_id, external_id)
    invoice_id = request_repay(sub.id, actor=_actor(), cause=_cause())
    return {"subscription": rep.subscription(sub), "invoice": rep.invoice(db.session.get(Invoice, invoice_id))}, 202


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(DOCUMENT)
