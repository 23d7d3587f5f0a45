"""The staff review queue: every payment needing review with its reason, counted on the dashboard, and the
actions that resolve one (attach it to the right invoice, dismiss it with a note; refunding it is in
test_browser), each a job, a payment transition on the timeline and a staff audit row."""
import re

from sqlalchemy import select

from portal.extensions import db
from portal.models import Invoice, OutboxMessage, Payment, StaffAction, Subscription, Transition
from tests.admin.support import staff_actions
from tests.factories import make_customer, make_plan
from tests.flows.test_notifications import form, pay_fields, post, signed


def held_payment(billing, live, **overrides):
    """A signed Pay that does not match its checkout invoice: recorded, held for review."""
    make_plan(code="monthly", amount=29900)
    sub, invoice, _ = billing.checkout(make_customer(), "monthly")
    body = form(pay_fields(invoice, 5570001, **overrides))
    assert post(live, "pay", body, signed(body)).json() == {"code": 0}
    billing.work()
    db.session.expire_all()
    [payment] = db.session.scalars(select(Payment)).all()
    assert payment.needs_review
    return payment, invoice


def resolve(staff, billing, payment, resolution, **fields):
    response = staff.post(f"/admin/review/{payment.id}/{resolution}", fields)
    assert response.status_code == 303, response.get_data(as_text=True)
    billing.work()
    db.session.expire_all()
    [action] = [a for a in staff_actions() if a.action == f"payment.review.{resolution}"]
    return action


def payment_events(payment_id):
    return [(m.routing_key, m.payload["invoice_id"]) for m in db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.aggregate_type == "payment", OutboxMessage.aggregate_id == payment_id))]


def review_transitions(payment_id):
    return db.session.execute(select(Transition.event, Transition.actor).where(
        Transition.entity_type == "payment", Transition.entity_id == payment_id).order_by(Transition.id)).all()


def test_the_queue_lists_each_held_payment_with_its_reason_and_the_dashboard_counts_them(staff, billing, live):
    payment, invoice = held_payment(billing, live, Currency="USD")
    page = staff.get("/admin/review").get_data(as_text=True)
    item = page[page.index(f'id="review-{payment.id}"'):]
    assert f"paid in USD, but invoice {invoice.id} is billed in RUB" in item
    for action in ("refund", "attach", "dismiss"):
        assert f'action="/admin/review/{payment.id}/{action}"' in item
    dashboard = staff.get("/admin/").get_data(as_text=True)
    assert re.search(r'id="kpi-review".*?<a href="/admin/review">1</a>', dashboard, re.S)


def test_staff_attach_a_payment_that_named_no_invoice_to_the_one_it_was_for(staff, billing, live):
    payment, invoice = held_payment(billing, live, InvoiceId="999999")
    assert payment.invoice_id is None
    action = resolve(staff, billing, payment, "attach", invoice_id=str(invoice.id), note="typo in the invoice number")

    assert action.details["state"] == "succeeded", action.details
    payment, invoice = db.session.get(Payment, payment.id), db.session.get(Invoice, invoice.id)
    assert (payment.needs_review, payment.review_resolution, payment.invoice_id) == (False, "attached", invoice.id)
    assert invoice.status == "paid"
    assert db.session.get(Subscription, invoice.subscription_id).status == "active"
    assert payment_events(payment.id) == [("payment.succeeded", invoice.id)]  # announced once, when it settled
    assert review_transitions(payment.id)[-1] == ("attach_to_invoice", f"staff:{staff.user.id}")
    assert "staff action" in db.session.scalar(select(Transition.cause).where(
        Transition.entity_id == payment.id, Transition.event == "attach_to_invoice"))


def test_attaching_to_an_invoice_of_another_amount_is_refused_and_changes_nothing(staff, billing, live):
    payment, invoice = held_payment(billing, live, Amount="1.00")
    response = staff.post(f"/admin/review/{payment.id}/attach", {"invoice_id": str(invoice.id), "note": "try"})
    assert response.status_code == 422
    assert f"Invoice #{invoice.id} is for 29900 RUB; the payment is 100 RUB." in response.get_data(as_text=True)
    assert staff_actions() == [] and db.session.get(Payment, payment.id).needs_review


def test_staff_dismiss_a_held_payment_with_a_note_and_it_leaves_the_queue(staff, billing, live):
    payment, invoice = held_payment(billing, live, AccountId="x")
    assert staff.post(f"/admin/review/{payment.id}/dismiss", {"note": "  "}).status_code == 422  # a note is needed
    action = resolve(staff, billing, payment, "dismiss", note="test transaction from the provider's support")

    assert action.details["state"] == "succeeded", action.details
    payment = db.session.get(Payment, payment.id)
    assert (payment.needs_review, payment.review_resolution, payment.review_note) == (
        False, "dismissed", "test transaction from the provider's support")
    assert db.session.get(Invoice, invoice.id).status == "open"
    assert review_transitions(payment.id)[-1] == ("dismiss_review", f"staff:{staff.user.id}")
    assert db.session.scalar(select(StaffAction.staff_user_id).where(StaffAction.id == action.id)) == staff.user.id
    page = staff.get("/admin/review").get_data(as_text=True)
    assert f'id="review-{payment.id}"' not in page and f'id="resolved-{payment.id}"' in page
    assert staff.post(f"/admin/review/{payment.id}/dismiss", {"note": "again"}).status_code == 409
