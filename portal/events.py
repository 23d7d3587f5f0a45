"""What each bus event says: enough for a consumer to act without calling billing back."""
from portal.models.catalog import PLAN_LANGUAGES


def _iso(value):
    return value.isoformat() if value is not None else None


def _plan(plan) -> dict:
    """A plan as events name it: `name` in the catalogue's first language (Russian), `names` in each."""
    return {"code": plan.code, "name": plan.name_in(PLAN_LANGUAGES[0]),
            "names": {code: plan.name_in(code) for code in PLAN_LANGUAGES}}


def subscription_data(sub) -> dict:
    return {
        "subscription_id": sub.id,
        "status": sub.status,
        "customer": {"id": sub.customer_id, "external_id": sub.customer.external_id, "email": sub.customer.email},
        "plan": _plan(sub.plan),
        "amount": sub.amount,
        "currency": sub.currency,
        "current_period_start": _iso(sub.current_period_start),
        "current_period_end": _iso(sub.current_period_end),
        "trial_end": _iso(sub.trial_end),
        "cancel_at_period_end": sub.cancel_at_period_end,
    }


def _billed(payment) -> dict:
    """What a payment's (or its refund's, or receipt's) event says of the invoice it paid."""
    invoice = payment.invoice
    return {
        "invoice_id": invoice.id if invoice is not None else payment.invoice_id,
        "subscription_id": invoice.subscription_id if invoice else None,
        "customer_external_id": invoice.customer.external_id if invoice else None,
    }


def payment_data(payment) -> dict:
    # Built inside the transition, before a batch's flush: a new payment knows its invoice as the related
    # row, not yet as the foreign key column, so every id is read from the row it names.
    return {
        "payment_id": payment.id,
        "provider": payment.provider,
        "provider_transaction_id": payment.provider_transaction_id,
        "status": payment.status,
        "amount": payment.amount,
        "currency": payment.currency,
        "reason_code": payment.reason_code,
        "reason": payment.reason,
        **_billed(payment),
    }


def refund_data(refund) -> dict:
    payment = refund.payment
    return {
        "refund_id": refund.id,
        "payment_id": payment.id,
        "amount": refund.amount,
        "currency": refund.currency,
        "reason": refund.reason,
        **_billed(payment),
    }


def receipt_data(receipt) -> dict:
    """receipt.registered / receipt.failed: the till's answer for a payment's or a refund's receipt."""
    payment = receipt.payment
    return {
        "receipt_id": receipt.id,
        "kind": receipt.kind,
        "status": receipt.status,
        "provider": receipt.provider,
        "payment_id": payment.id,
        "refund_id": receipt.refund_id,
        "amount": receipt.amount,
        "currency": receipt.currency,
        "fiscal_storage_number": receipt.fiscal_storage_number,
        "fiscal_document_number": receipt.fiscal_document_number,
        "fiscal_sign": receipt.fiscal_sign,
        "registered_at": _iso(receipt.registered_at),
        "failure": receipt.failure,
        **_billed(payment),
    }


_BUILDERS = {"subscription": subscription_data, "payment": payment_data, "refund": refund_data,
             "receipt": receipt_data}


def plan_changed_data(sub) -> dict:
    """subscription.plan_changed: the subscription on its new plan, and the plan it left."""
    previous = getattr(sub, "previous_plan", None)
    return {**subscription_data(sub),
            "previous_plan": _plan(previous) if previous is not None else None}


def price_change_data(sub) -> dict:
    """subscription.price_change_scheduled: the subscription, and the price it pays from its first renewal
    on or after `effective_from` (the end of the notice given to the customer)."""
    return {**subscription_data(sub),
            "scheduled_price": {"amount": sub.scheduled_amount, "currency": sub.currency,
                                "effective_from": _iso(sub.price_change_from)}}


def _card(card) -> dict | None:
    return {"mask": card.card_mask, "exp": card.card_exp} if card is not None else None


def card_data(sub) -> dict:
    """subscription.card_replaced / card_removed: the card renewals charge from now on (null once removed)."""
    return {**subscription_data(sub), "card": _card(sub.payment_method)}


def trial_refused_data(sub) -> dict:
    """subscription.trial_refused: the checkout offers no free trial after all and is paid from the first day;
    `trial_refusal` says why (card_used: this card had a trial on another account)."""
    return {**subscription_data(sub), "trial_refusal": sub.trial_refusal}


def _plan_ref(plan) -> dict | None:
    return {**_plan(plan), "amount": plan.amount} if plan is not None else None


def plan_change_scheduled_data(sub) -> dict:
    """subscription.plan_change_scheduled: the plan the renewal at `current_period_end` moves to and bills."""
    return {**subscription_data(sub), "scheduled_plan": _plan_ref(sub.scheduled_plan)}


def plan_change_undone_data(sub) -> dict:
    """subscription.plan_change_undone: the scheduled change taken back; the subscription renews on its plan."""
    return {**subscription_data(sub), "scheduled_plan": None,
            "undone_plan": _plan_ref(getattr(sub, "undone_plan", None))}


def pause_data(sub) -> dict:
    """subscription.pause_scheduled / pause_undone: the pause asked for (from the period end until
    `resumes_at`), null once taken back."""
    pause = ({"starts_at": _iso(sub.pause_starts_at), "resumes_at": _iso(sub.resumes_at)}
             if sub.resumes_at is not None else None)
    return {**subscription_data(sub), "pause": pause}


def price_change_applied_data(sub) -> dict:
    """subscription.price_change_applied: at a renewal the moved price took effect; `data.amount` is what this
    and later renewals bill, `previous_price` what the subscription paid until now."""
    previous = getattr(sub, "previous_amount", None)
    return {**subscription_data(sub),
            "previous_price": {"amount": previous, "currency": sub.currency} if previous is not None else None}


_SUBSCRIPTION_EVENTS = {
    "subscription.plan_changed": plan_changed_data,
    "subscription.price_change_scheduled": price_change_data,
    "subscription.price_change_applied": price_change_applied_data,
    "subscription.card_replaced": card_data,
    "subscription.card_removed": card_data,
    "subscription.trial_refused": trial_refused_data,
    "subscription.plan_change_scheduled": plan_change_scheduled_data,
    "subscription.plan_change_undone": plan_change_undone_data,
    "subscription.pause_scheduled": pause_data,
    "subscription.pause_undone": pause_data,
}


def event_payload(routing_key: str, row) -> dict:
    builder = _SUBSCRIPTION_EVENTS.get(routing_key)
    if builder is not None:
        return builder(row)
    return _BUILDERS[routing_key.split(".", 1)[0]](row)
