"""The payment's review transitions: held with a reason, resolved once (refunded, attached, dismissed with a
note), each on the timeline; a held payment's success announces nothing; illegal review events change nothing."""
import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.machines import TransitionNotAllowed, atomic, fire, lock
from portal.models import OutboxMessage, Payment, Transition
from tests.factories import make_invoice


def pending_payment(invoice=None) -> Payment:
    invoice = invoice or make_invoice()
    payment = Payment(provider="sandbox", provider_transaction_id="9990001", invoice=invoice,
                      customer_id=invoice.customer_id, amount=invoice.amount, currency=invoice.currency,
                      status="pending")
    db.session.add(payment)
    db.session.commit()
    return payment


def run(payment_id, event, **data):
    with atomic():
        fire(lock(Payment, payment_id), event, actor="test", cause="test", **data)


def test_a_held_payment_completes_without_announcing_payment_succeeded(app):
    payment = pending_payment()
    run(payment.id, "hold_for_review", reason="paid in USD")
    run(payment.id, "complete")
    payment = db.session.get(Payment, payment.id)
    assert (payment.status, payment.needs_review, payment.review_reason) == ("completed", True, "paid in USD")
    assert db.session.scalars(select(OutboxMessage.routing_key)).all() == []
    assert db.session.scalars(select(Transition.event).order_by(Transition.id)).all() == ["hold_for_review",
                                                                                            "complete"]


def test_attaching_a_held_payment_announces_its_one_payment_succeeded_with_the_invoice(app):
    payment = pending_payment()
    run(payment.id, "hold_for_review", reason="named no invoice")
    run(payment.id, "complete")
    right = make_invoice()
    run(payment.id, "attach_to_invoice", invoice=right, note="typo")
    db.session.expire_all()
    payment = db.session.get(Payment, payment.id)
    assert (payment.invoice_id, payment.customer_id, payment.review_resolution) == (
        right.id, right.customer_id, "attached")
    [message] = db.session.scalars(select(OutboxMessage)).all()
    assert (message.routing_key, message.payload["invoice_id"]) == ("payment.succeeded", right.id)


@pytest.mark.parametrize("event,data", [
    ("dismiss_review", {"note": "fine"}),
    ("attach_to_invoice", {"note": "fine"}),
    ("refund_held", {"note": "fine"}),
])
def test_a_payment_not_held_cannot_be_resolved(app, event, data):
    payment = pending_payment()
    run(payment.id, "complete")
    with pytest.raises(TransitionNotAllowed):
        run(payment.id, event, **data)
    assert db.session.get(Payment, payment.id).review_resolution is None


@pytest.mark.parametrize("event,data", [("hold_for_review", {}), ("dismiss_review", {"note": " "})])
def test_a_hold_needs_its_reason_and_a_dismissal_its_note(app, event, data):
    payment = pending_payment()
    if event == "dismiss_review":
        run(payment.id, "hold_for_review", reason="paid twice")
    with pytest.raises(ValueError):
        run(payment.id, event, **data)
    db.session.expire_all()
    assert db.session.get(Payment, payment.id).review_resolution is None
