"""The subscription page and its actions: timeline with actors and causes, and cancel, refund, grant and retry,
each confirmed first, run as a job by a real RQ worker, polled for its result and written to the audit log."""
import re
from datetime import timedelta

from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import Invoice, Payment, Refund, StaffAction, Subscription, Transition
from tests.admin.support import completed_payment, paid_subscription, staff_actions
from tests.dates import english_day, in_moscow
from tests.flows.conftest import LATER_DECLINED_CARD
from workers import ticks


def reload(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def run_action(staff, billing, response):
    """The confirmed action answered with its progress fragment; the worker runs it; the poll shows the end."""
    assert response.status_code == 202, response.get_data(as_text=True)
    page = response.get_data(as_text=True)
    action_id = int(re.search(r'data-action-id="(\d+)"', page).group(1))
    assert 'data-state="queued"' in page and "hx-trigger=\"every" in page
    billing.work()
    status = staff.get(f"/admin/actions/{action_id}", htmx=True)
    assert status.headers.get("HX-Trigger") == "billing-changed"
    assert "hx-trigger" not in status.get_data(as_text=True)  # finished: no more polling
    return reload(StaffAction, action_id), status.get_data(as_text=True)


def test_timeline_shows_each_transition_with_its_actor_and_cause(staff, billing):
    sub = paid_subscription(billing)
    page = staff.get(f"/admin/subscriptions/{sub.id}").get_data(as_text=True)
    timeline = page[page.index('id="timeline"'):]
    assert "activate" in timeline and "pending → active" in timeline
    assert "provider" in timeline
    event_id = re.search(r"notification pay #(\d+)", timeline).group(1)
    assert f'href="/admin/webhooks/{event_id}"' in timeline  # the cause links to the inbox row
    assert 'data-entity="invoice"' in timeline and 'data-entity="payment"' in timeline
    assert 'data-state="active" aria-current="step"' in page  # the lifecycle marks the current state
    assert "class active current" in page  # and so does the Mermaid source


def test_cancel_now_is_confirmed_then_run_by_a_job_and_audited(staff, billing):
    sub = paid_subscription(billing)
    url = f"/admin/subscriptions/{sub.id}/cancel"
    form = staff.get(url, htmx=True)
    assert form.status_code == 200 and 'name="when"' in form.get_data(as_text=True)

    review = staff.post(url, {"when": "now", "refund": "1", "reason": "customer asked by phone"}, htmx=True)
    text = review.get_data(as_text=True)
    assert review.status_code == 200 and 'name="confirm" value="yes"' in text and "unused days" in text
    assert staff_actions() == [] and reload(Subscription, sub.id).status == "active"  # nothing yet

    action, result = run_action(staff, billing, staff.post(
        url, {"when": "now", "refund": "1", "reason": "customer asked by phone", "confirm": "yes"}, htmx=True))
    billing.work()
    billing.assert_no_failed_jobs()

    assert action.details["state"] == "succeeded" and "canceled" in result
    assert (action.action, action.staff_user_id, action.remote_addr) == ("subscription.cancel", staff.user.id,
                                                                         "203.0.113.7")
    assert action.target_id == str(sub.id) and action.details["reason"] == "customer asked by phone"
    assert reload(Subscription, sub.id).status == "canceled"
    cancel = db.session.scalars(select(Transition).where(Transition.entity_type == "subscription",
                                                         Transition.event == "cancel")).one()
    assert cancel.actor == f"staff:{staff.user.id}" and f"staff action #{action.id}" in cancel.cause
    [refund] = db.session.scalars(select(Refund)).all()
    assert refund.requested_by == f"staff:{staff.user.id}" and refund.status == "succeeded"

    audit = staff.get("/admin/audit").get_data(as_text=True)
    assert "subscription.cancel" in audit and "203.0.113.7" in audit and staff.user.email in audit
    timeline = staff.get(f"/admin/subscriptions/{sub.id}").get_data(as_text=True)
    assert f'href="/admin/actions/{action.id}"' in timeline and staff.user.email in timeline


def test_cancel_at_period_end_turns_auto_renew_off(staff, billing):
    sub = paid_subscription(billing)
    action, _ = run_action(staff, billing, staff.post(f"/admin/subscriptions/{sub.id}/cancel",
                                                      {"when": "period_end", "confirm": "yes"}, htmx=True))
    sub = reload(Subscription, sub.id)
    assert (sub.status, sub.cancel_at_period_end) == ("active", True)
    assert action.details["state"] == "succeeded"
    again = staff.post(f"/admin/subscriptions/{sub.id}/cancel", {"when": "period_end", "confirm": "yes"}, htmx=True)
    assert again.status_code == 409 and "already set to end" in again.get_data(as_text=True)


def test_partial_refund_with_a_reason(staff, billing):
    sub = paid_subscription(billing)
    payment = completed_payment(sub)
    url = f"/admin/payments/{payment.id}/refund"
    assert "299.00" in staff.get(url).get_data(as_text=True)  # what is refundable is shown

    review = staff.post(url, {"amount": "100.50", "reason": "goodwill"}, htmx=True)
    assert review.status_code == 200 and "RUB 100.50" in review.get_data(as_text=True)
    assert staff_actions() == []

    action, result = run_action(staff, billing, staff.post(
        url, {"amount": "100.50", "reason": "goodwill", "confirm": "yes"}, htmx=True))
    billing.work()
    assert action.details["state"] == "succeeded", action.details
    assert action.details["amount"] == 10050 and action.details["refund_id"]
    payment = reload(Payment, payment.id)
    assert payment.amount_refunded == 10050
    [refund] = db.session.scalars(select(Refund)).all()
    assert (refund.amount, refund.reason, refund.status) == (10050, "goodwill", "succeeded")
    assert reload(Subscription, sub.id).status == "active"  # a partial refund keeps access
    # What is left is what can still be refunded.
    assert "RUB 198.50" in staff.get(url).get_data(as_text=True)


def test_refund_above_the_refundable_amount_is_refused_with_a_message(staff, billing):
    sub = paid_subscription(billing)
    payment = completed_payment(sub)
    for amount in ("299.01", "1000", "0", "-5", "abc", "1.001"):
        response = staff.post(f"/admin/payments/{payment.id}/refund",
                              {"amount": amount, "reason": "too much", "confirm": "yes"}, htmx=True)
        assert response.status_code == 422, amount
        assert 'id="refund-error"' in response.get_data(as_text=True)
    text = staff.post(f"/admin/payments/{payment.id}/refund", {"amount": "300", "reason": "x", "confirm": "yes"},
                      htmx=True).get_data(as_text=True)
    assert "At most RUB 299.00 of this payment can still be refunded; RUB 300.00 was asked" in text
    no_reason = staff.post(f"/admin/payments/{payment.id}/refund", {"amount": "10", "confirm": "yes"}, htmx=True)
    assert no_reason.status_code == 422 and "Give a reason" in no_reason.get_data(as_text=True)
    assert staff_actions() == [] and db.session.scalars(select(Refund)).all() == []


def test_full_refund_warns_that_access_ends_and_ends_it(staff, billing):
    sub = paid_subscription(billing)
    payment = completed_payment(sub)
    review = staff.post(f"/admin/payments/{payment.id}/refund", {"amount": "299", "reason": "fraud"}, htmx=True)
    assert "access ends now" in review.get_data(as_text=True)
    action, _ = run_action(staff, billing, staff.post(f"/admin/payments/{payment.id}/refund",
                                                      {"amount": "299", "reason": "fraud", "confirm": "yes"},
                                                      htmx=True))
    billing.work()
    assert action.details["state"] == "succeeded"
    assert reload(Subscription, sub.id).status == "canceled"
    assert db.session.get(Invoice, payment.invoice_id).status == "refunded"


def test_grant_extra_days_extends_the_period_once(staff, billing):
    sub = paid_subscription(billing)
    end = sub.current_period_end
    url = f"/admin/subscriptions/{sub.id}/grant"
    review = staff.post(url, {"days": "10", "reason": "outage compensation"}, htmx=True)
    # In the staff member's zone (Moscow unless they chose another), named.
    new_end = in_moscow(end + timedelta(days=10))
    assert review.status_code == 200
    assert f"{english_day(new_end)}, {new_end:%H:%M} (Moscow time)" in review.get_data(as_text=True)
    bad = staff.post(url, {"days": "400", "reason": "x", "confirm": "yes"}, htmx=True)
    assert bad.status_code == 422 and "from 1 to 366" in bad.get_data(as_text=True)

    action, _ = run_action(staff, billing, staff.post(
        url, {"days": "10", "reason": "outage compensation", "confirm": "yes"}, htmx=True))
    assert action.details["state"] == "succeeded"
    assert reload(Subscription, sub.id).current_period_end == end + timedelta(days=10)
    grant = db.session.scalars(select(Invoice).where(Invoice.kind == "grant")).one()
    assert (grant.status, grant.amount) == ("paid", 0)

    from portal.admin.actions import perform

    perform(action.id)  # the job run a second time (a retry) grants nothing more
    assert reload(Subscription, sub.id).current_period_end == end + timedelta(days=10)
    extend = db.session.scalars(select(Transition).where(Transition.event == "extend")).one()
    assert extend.actor == f"staff:{staff.user.id}" and "outage compensation" in extend.cause


def test_retry_the_charge_now_of_a_past_due_subscription(staff, billing):
    sub = paid_subscription(billing, card=LATER_DECLINED_CARD)
    url = f"/admin/subscriptions/{sub.id}/retry-charge"
    refused = staff.get(url, htmx=True)
    assert refused.status_code == 409 and "nothing to charge" in refused.get_data(as_text=True)

    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    assert reload(Subscription, sub.id).status == "past_due"
    invoice = db.session.scalars(select(Invoice).where(Invoice.kind == "renewal")).one()
    attempts = invoice.attempt_count

    confirm = staff.get(url, htmx=True)
    assert confirm.status_code == 200 and f"invoice {invoice.number}" in confirm.get_data(as_text=True)
    action, result = run_action(staff, billing, staff.post(url, {"confirm": "yes", "reason": "card topped up"},
                                                           htmx=True))
    # This card always declines: the action failed, in red, with the bank's reason.
    assert action.details["state"] == "failed"
    assert 'class="alert alert-error"' in result and f"invoice {invoice.number} (RUB 299.00) was declined: " in result
    assert "(code 5051)" in result
    assert reload(Invoice, invoice.id).attempt_count == attempts + 1
    declined = db.session.scalars(select(Transition).where(Transition.entity_type == "payment",
                                                           Transition.event == "decline")
                                  .order_by(Transition.id.desc())).first()
    assert declined.actor == f"staff:{staff.user.id}"


def test_without_htmx_an_action_is_a_page_and_a_redirect_to_its_status(staff, billing):
    sub = paid_subscription(billing)
    page = staff.get(f"/admin/subscriptions/{sub.id}/cancel")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)
    response = staff.post(f"/admin/subscriptions/{sub.id}/cancel", {"when": "period_end", "confirm": "yes"})
    assert response.status_code == 303
    assert re.fullmatch(r"/admin/actions/\d+", response.headers["Location"])
    billing.work()
    assert "Done." in staff.get(response.headers["Location"]).get_data(as_text=True)


def test_staff_upgrade_is_confirmed_audited_and_charges_the_prorated_difference(staff, billing):
    from tests.factories import make_plan

    sub = paid_subscription(billing)
    make_plan(code="premium", amount=49900)
    url = f"/admin/subscriptions/{sub.id}/change-plan"
    form = staff.get(url, htmx=True).get_data(as_text=True)
    assert 'id="change-plan-plan"' in form and "Premium" in form
    unreasoned = staff.post(url, {"plan": "premium"}, htmx=True)
    assert unreasoned.status_code == 422 and "Give a reason" in unreasoned.get_data(as_text=True)
    review = staff.post(url, {"plan": "premium", "reason": "customer asked by phone"}, htmx=True)
    assert review.status_code == 200 and "is charged at once" in review.get_data(as_text=True)
    assert reload(Subscription, sub.id).plan.code == "monthly"  # the review changes nothing

    action, page = run_action(staff, billing, staff.post(
        url, {"plan": "premium", "reason": "customer asked by phone", "confirm": "yes"}, htmx=True))
    billing.work()
    assert action.details["state"] == "succeeded" and action.details["direction"] == "upgrade"
    assert "Proration invoice" in page
    sub = reload(Subscription, sub.id)
    assert (sub.plan.code, sub.amount) == ("premium", 49900)
    [proration] = db.session.scalars(select(Invoice).where(Invoice.kind == "proration")).all()
    assert proration.status == "paid" and proration.amount == action.details["amount"]
    changed = db.session.scalars(select(Transition).where(Transition.event == "change_plan")).one()
    assert changed.actor == f"staff:{staff.user.id}" and "customer asked by phone" in changed.cause


def test_staff_schedule_a_downgrade_and_undo_it(staff, billing):
    from tests.factories import make_plan

    sub = paid_subscription(billing, plan_code="premium", amount=49900)
    make_plan(code="monthly", amount=29900)
    url = f"/admin/subscriptions/{sub.id}/change-plan"
    refused = staff.post(url, {"plan": "monthly", "when": "now", "reason": "x"}, htmx=True)
    assert refused.status_code == 409 and "period end" in refused.get_data(as_text=True)

    run_action(staff, billing, staff.post(url, {"plan": "monthly", "reason": "cheaper", "confirm": "yes"}, htmx=True))
    billing.work()
    assert reload(Subscription, sub.id).scheduled_plan.code == "monthly"
    assert 'id="sub-scheduled-plan">monthly from the period end' in staff.get(
        f"/admin/subscriptions/{sub.id}").get_data(as_text=True)
    review = staff.post(url, {"plan": "premium", "reason": "changed their mind"}, htmx=True)
    assert "Undo the scheduled change" in review.get_data(as_text=True)
    run_action(staff, billing, staff.post(url, {"plan": "premium", "reason": "changed their mind", "confirm": "yes"},
                                          htmx=True))
    billing.work()
    assert reload(Subscription, sub.id).scheduled_plan_id is None
    assert [a.action for a in staff_actions()] == ["subscription.change_plan", "subscription.change_plan"]
