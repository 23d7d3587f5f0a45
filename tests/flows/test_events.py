"""Every bus event says what the database holds: each field of each event type, for payments applied in a
notification drain batch and a renewal group as much as for those applied alone."""
from datetime import timedelta

from sqlalchemy import func, select

from portal import clock
from portal.billing.cancellation import request_cancel
from portal.extensions import db
from portal.models import OutboxMessage, Payment, Refund, Subscription
from portal.models.messaging import WebhookEvent
from tests.factories import make_customer, make_plan
from tests.flows.conftest import DECLINED_CARD, LATER_DECLINED_CARD, SUCCESS_CARD
from workers import ticks

EVENT_TYPES = {"subscription.activated", "subscription.renewed", "subscription.past_due", "subscription.canceled",
               "subscription.expired", "payment.succeeded", "payment.failed", "refund.succeeded"}


def _iso(value):
    return value.isoformat() if value is not None else None


def subscription_in_database(sub: Subscription) -> dict:
    return {"subscription_id": sub.id, "status": sub.status,
            "customer": {"id": sub.customer.id, "external_id": sub.customer.external_id, "email": sub.customer.email},
            "plan": {"code": sub.plan.code, "name": sub.plan.name_ru,
                     "names": {"ru": sub.plan.name_ru, "en": sub.plan.name_en}},
            "amount": sub.amount, "currency": sub.currency,
            "current_period_start": _iso(sub.current_period_start), "current_period_end": _iso(sub.current_period_end),
            "trial_end": _iso(sub.trial_end), "cancel_at_period_end": sub.cancel_at_period_end}


def payment_in_database(payment: Payment) -> dict:
    assert payment.invoice_id is not None, f"payment {payment.id} has no invoice"
    return {"payment_id": payment.id, "provider": payment.provider,
            "provider_transaction_id": payment.provider_transaction_id, "status": payment.status,
            "amount": payment.amount, "currency": payment.currency, "reason_code": payment.reason_code,
            "reason": payment.reason, "invoice_id": payment.invoice_id,
            "subscription_id": payment.invoice.subscription_id,
            "customer_external_id": payment.invoice.customer.external_id}


def refund_in_database(refund: Refund) -> dict:
    invoice = refund.payment.invoice
    return {"refund_id": refund.id, "payment_id": refund.payment_id, "amount": refund.amount,
            "currency": refund.currency, "reason": refund.reason, "invoice_id": refund.payment.invoice_id,
            "subscription_id": invoice.subscription_id, "customer_external_id": invoice.customer.external_id}


IN_DATABASE = {"subscription": (Subscription, subscription_in_database), "payment": (Payment, payment_in_database),
               "refund": (Refund, refund_in_database)}


def events_since(last_id: int) -> list[OutboxMessage]:
    db.session.expire_all()
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.id > last_id)
                              .order_by(OutboxMessage.id)).all()


def assert_events_say_what_the_database_holds(last_id: int) -> tuple[int, list[str]]:
    """Each event since `last_id` against its row as committed (each step ends an entity's changes with the
    event checked, so its row still says what the event said)."""
    messages = events_since(last_id)
    for message in messages:
        model, in_database = IN_DATABASE[message.aggregate_type]
        row = db.session.get(model, message.aggregate_id)
        assert message.routing_key.split(".")[0] == message.aggregate_type
        assert message.payload == in_database(row), message.routing_key
    return (messages[-1].id if messages else last_id), [m.routing_key for m in messages]


def test_every_field_of_every_event_type_matches_the_database_batches_included(billing):
    make_plan(code="monthly", amount=29900)
    checkouts = [billing.checkout(make_customer(), "monthly") for _ in range(3)]
    (paid, _, paid_params), (lapsing, _, lapsing_params), (declined, _, declined_params) = checkouts
    seen = []

    # One drain batch applies both Pays (the Fail is applied alone).
    for params, card in ((paid_params, SUCCESS_CARD), (lapsing_params, LATER_DECLINED_CARD),
                         (declined_params, DECLINED_CARD)):
        billing.pay(params, card=card)
    assert db.session.scalar(select(func.count()).select_from(WebhookEvent).where(
        WebhookEvent.kind == "pay", WebhookEvent.status == "received")) == 2
    billing.work()
    billing.assert_no_failed_jobs()
    last, keys = assert_events_say_what_the_database_holds(0)
    seen += keys
    assert sorted(keys) == ["payment.failed", "payment.succeeded", "payment.succeeded",
                            "subscription.activated", "subscription.activated"]

    # One renewal group charges both saved cards side by side and records them in one transaction.
    subs = [db.session.get(Subscription, s.id) for s in (paid, lapsing)]
    clock.freeze(max(s.current_period_end for s in subs) + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    billing.assert_no_failed_jobs()
    last, keys = assert_events_say_what_the_database_holds(last)
    seen += keys
    assert sorted(keys) == ["payment.failed", "payment.succeeded", "subscription.past_due", "subscription.renewed"]

    request_cancel(paid.id, "now", actor="customer:1", cause="moving abroad")
    billing.work()
    billing.work()
    last, keys = assert_events_say_what_the_database_holds(last)
    seen += keys
    assert keys == ["subscription.canceled", "refund.succeeded"]

    ticks.checkout_expiry()  # the declined checkout was never paid
    billing.work()
    last, keys = assert_events_say_what_the_database_holds(last)
    seen += keys
    assert keys == ["subscription.expired"]
    assert set(seen) == EVENT_TYPES
