"""Subscribe and pay: from the plan to an active subscription, through the provider's widget."""
from sqlalchemy import select

from portal.extensions import db
from portal.models import OutboxMessage, Payment, PaymentMethod, Subscription, Transition, WebhookEvent
from tests.factories import make_customer, make_plan
from tests.flows.conftest import DECLINED_CARD


def timeline(entity_type, entity_id):
    return [(t.from_state, t.to_state, t.event) for t in db.session.scalars(
        select(Transition).where(Transition.entity_type == entity_type, Transition.entity_id == entity_id)
        .order_by(Transition.id))]


def events():
    return db.session.scalars(select(OutboxMessage.routing_key).order_by(OutboxMessage.id)).all()


def test_subscribe_and_pay_makes_the_subscription_active(billing):
    make_plan(code="monthly", amount=29900)
    customer = make_customer()
    sub, invoice, params = billing.checkout(customer, "monthly")
    assert (params["amount"], params["currency"], params["invoiceId"]) == (299.0, "RUB", str(invoice.id))

    outcome = billing.pay(params)
    assert outcome["Success"] is True
    billing.work()
    billing.assert_no_failed_jobs()

    db.session.expire_all()
    sub = db.session.get(Subscription, sub.id)
    assert sub.status == "active"
    assert sub.current_period_end > sub.current_period_start
    assert (sub.current_period_end - sub.current_period_start).days in (28, 29, 30, 31)
    assert sub.invoices[0].status == "paid"
    [payment] = db.session.scalars(select(Payment)).all()
    assert (payment.status, payment.amount, payment.provider_transaction_id) == (
        "completed", 29900, str(outcome["TransactionId"]))
    card = db.session.get(PaymentMethod, sub.payment_method_id)
    assert card.token == outcome["Token"] and card.card_last_four == "3055"
    assert timeline("subscription", sub.id) == [("pending", "active", "activate")]
    assert timeline("invoice", invoice.id) == [("open", "paid", "pay")]
    assert events() == ["payment.succeeded", "subscription.activated"]


def test_checkout_is_reused_until_paid(billing):
    make_plan(code="monthly")
    customer = make_customer()
    first = billing.checkout(customer, "monthly")
    second = billing.checkout(customer, "monthly")
    assert (first[0].id, first[1].id) == (second[0].id, second[1].id)


def test_declined_first_payment_then_another_card_succeeds(billing):
    make_plan(code="monthly")
    sub, invoice, params = billing.checkout(make_customer(), "monthly")

    declined = billing.pay(params, card=DECLINED_CARD)
    assert declined["Success"] is False and declined["ReasonCode"] == 5051
    billing.work()
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).status == "pending"
    assert [p.status for p in db.session.scalars(select(Payment))] == ["declined"]

    assert billing.pay(params)["Success"] is True
    billing.work()
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).status == "active"
    assert sorted(p.status for p in db.session.scalars(select(Payment))) == ["completed", "declined"]
    assert events() == ["payment.failed", "payment.succeeded", "subscription.activated"]


def test_trial_plan_verifies_the_card_and_voids_the_check(billing):
    make_plan(code="premium", amount=59900, trial_days=7)
    sub, invoice, params = billing.checkout(make_customer(), "premium")
    assert params["scheme"] == "auth" and params["amount"] == 1.0

    assert billing.pay(params)["Success"] is True
    billing.work()

    db.session.expire_all()
    sub = db.session.get(Subscription, sub.id)
    assert sub.status == "trialing"
    assert (sub.trial_end - sub.current_period_start).days == 7
    assert sub.payment_method_id is not None
    [payment] = db.session.scalars(select(Payment)).all()
    assert payment.status == "voided"
    assert db.session.get(type(invoice), invoice.id).status == "void"
    [at_provider] = billing.provider_transactions(invoice.id)
    assert at_provider["Status"] == "Cancelled"


def test_notifications_are_stored_once_and_answered(billing):
    make_plan(code="monthly")
    sub, invoice, params = billing.checkout(make_customer(), "monthly")
    outcome = billing.pay(params)
    pay_delivery = [n for n in billing.sandbox("GET", "/notifications?type=pay").json()
                    if n["transaction_id"] == outcome["TransactionId"]][0]
    for _ in range(3):
        assert billing.sandbox("POST", f"/notifications/{pay_delivery['id']}/redeliver").status_code == 200
    billing.work()
    db.session.expire_all()
    assert db.session.scalar(select(db.func.count()).select_from(WebhookEvent).where(
        WebhookEvent.kind == "pay")) == 1
    assert db.session.scalar(select(db.func.count()).select_from(Payment)) == 1
