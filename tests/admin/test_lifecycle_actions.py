"""Staff actions of the lifecycle: pause and resume, taking a lost card off, and moving subscriptions to a plan's
new price with notice. Each is confirmed first, run as a job by a real RQ worker and written to the audit log and
the subscription's timeline."""
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from portal import clock
from portal.extensions import db
from portal.models import Invoice, OutboxMessage, Plan, Subscription, Transition
from tests.admin.support import paid_subscription, staff_actions
from tests.admin.test_subscription_actions import reload, run_action
from tests.published import published
from workers import ticks


def _timeline(sub_id):
    return [(t.event, t.actor) for t in db.session.scalars(select(Transition).where(
        Transition.entity_type == "subscription", Transition.entity_id == sub_id).order_by(Transition.id))]


def _renewal(sub):
    return db.session.scalars(select(Invoice).where(Invoice.subscription_id == sub.id,
                                                    Invoice.kind == "renewal")).one()


def test_staff_pause_a_subscription_from_its_period_end_and_resume_it_early(staff, billing):
    sub = paid_subscription(billing)
    url = f"/admin/subscriptions/{sub.id}/pause"
    assert 'id="pause-months"' in staff.get(url, htmx=True).get_data(as_text=True)
    too_long = staff.post(url, {"months": "4", "reason": "asked by phone"}, htmx=True)
    assert too_long.status_code == 422 and "1, 2, 3 months" in too_long.get_data(as_text=True)
    review = staff.post(url, {"months": "2", "reason": "asked by phone"}, htmx=True).get_data(as_text=True)
    assert 'id="pause-confirm"' in review and reload(Subscription, sub.id).pause_starts_at is None

    action, page = run_action(staff, billing, staff.post(
        url, {"months": "2", "reason": "asked by phone", "confirm": "yes"}, htmx=True))
    assert action.details["state"] == "succeeded", page
    sub = reload(Subscription, sub.id)
    assert sub.pause_starts_at == sub.current_period_end
    assert sub.resumes_at.month == (sub.current_period_end.month + 1) % 12 + 1
    assert ("schedule_pause", f"staff:{staff.user.id}") in _timeline(sub.id)

    # At the period end the subscription pauses instead of renewing; staff resume it early.
    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    assert reload(Subscription, sub.id).status == "paused"
    page = staff.get(f"/admin/subscriptions/{sub.id}").get_data(as_text=True)
    assert "/pause" not in page.split('id="actions"')[1].split("</section>")[0]
    action, _ = run_action(staff, billing, staff.post(
        f"/admin/subscriptions/{sub.id}/resume", {"reason": "back early", "confirm": "yes"}, htmx=True))
    billing.work()
    sub = reload(Subscription, sub.id)
    assert (action.details["state"], sub.status) == ("succeeded", "active")
    assert sub.current_period_start == clock.now()
    renewal = _renewal(sub)
    assert (renewal.status, renewal.amount, renewal.period_start) == ("paid", 29900, clock.now())
    assert [a.action for a in staff_actions()] == ["subscription.pause", "subscription.resume"]


def test_staff_remove_a_lost_card_and_the_renewal_waits_for_the_customer(staff, billing):
    sub = paid_subscription(billing)
    url = f"/admin/subscriptions/{sub.id}/remove-card"
    review = staff.post(url, {"reason": "card reported stolen"}, htmx=True).get_data(as_text=True)
    assert "Stop charging" in review and "3055" in review

    action, _ = run_action(staff, billing, staff.post(url, {"reason": "card reported stolen", "confirm": "yes"},
                                                      htmx=True))
    sub = reload(Subscription, sub.id)
    assert (action.details["state"], sub.payment_method_id) == ("succeeded", None)
    assert ("remove_card", f"staff:{staff.user.id}") in _timeline(sub.id)
    [told] = published("subscription.card_removed", sub.id)  # the bus hears renewals have no card to charge
    assert (told["status"], told["card"]) == ("active", None)
    again = staff.post(url, {"reason": "twice"}, htmx=True)
    assert again.status_code == 409 and "has no saved card" in again.get_data(as_text=True)

    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    sub = reload(Subscription, sub.id)
    assert sub.status == "past_due"
    # Nothing reached the provider for the renewal: there was no card to charge.
    renewal = _renewal(sub)
    assert billing.provider_transactions(renewal.id) == []


def test_a_subscription_keeps_its_price_until_staff_move_it_and_then_pays_the_new_one_after_the_notice(
        staff, billing):
    clock.freeze(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    sub = paid_subscription(billing)  # Monthly at 299.00: 1 December – 1 January
    plan = db.session.scalar(select(Plan).where(Plan.code == "monthly"))
    plan.amount = 34900
    db.session.commit()

    # A raise of the plan's price changes nothing for a subscriber: the January renewal would still bill 299.00.
    assert reload(Subscription, sub.id).amount == 29900
    url = f"/admin/subscriptions/{sub.id}/move-price"
    review = staff.post(url, {"reason": "2027 prices"}, htmx=True).get_data(as_text=True)
    # 30 days of notice from 1 December end on 31 December: the first renewal after that is 1 January.
    assert 'id="move-price-confirm"' in review and "RUB 349.00" in review
    assert "renewal on <strong>January 1, 2027, " in review
    action, page = run_action(staff, billing, staff.post(url, {"reason": "2027 prices", "confirm": "yes"},
                                                         htmx=True))
    assert action.details["state"] == "succeeded" and "2027-01-01" in page, page
    sub = reload(Subscription, sub.id)
    assert (sub.amount, sub.scheduled_amount) == (29900, 34900)
    assert sub.price_change_from == datetime(2026, 12, 31, 10, 0, tzinfo=UTC)
    [notice] = db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.routing_key == "subscription.price_change_scheduled")).all()
    assert notice.payload["scheduled_price"] == {
        "amount": 34900, "currency": "RUB", "effective_from": "2026-12-31T10:00:00+00:00"}

    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    sub = reload(Subscription, sub.id)
    renewal = _renewal(sub)
    assert (renewal.amount, renewal.status) == (34900, "paid")
    assert (sub.amount, sub.scheduled_amount, sub.price_change_from) == (34900, None, None)
    # The bus hears the price took effect at this renewal, and what it was before.
    [applied] = published("subscription.price_change_applied", sub.id)
    assert (applied["amount"], applied["previous_price"]) == (34900, {"amount": 29900, "currency": "RUB"})
    # Announced as the period it was given notice in ends, just before this renewal's new period.
    assert applied["current_period_end"] == renewal.period_start.isoformat()


def test_a_price_move_inside_the_notice_waits_for_the_renewal_after_it(staff, billing):
    clock.freeze(datetime(2026, 12, 20, 10, 0, tzinfo=UTC))
    sub = paid_subscription(billing)  # 20 December – 20 January
    clock.freeze(datetime(2027, 1, 1, 10, 0, tzinfo=UTC))
    plan = db.session.scalar(select(Plan).where(Plan.code == "monthly"))
    plan.amount = 34900
    db.session.commit()
    run_action(staff, billing, staff.post(f"/admin/subscriptions/{sub.id}/move-price",
                                          {"reason": "2027 prices", "confirm": "yes"}, htmx=True))
    # Notice ends 31 January: the 20 January renewal still bills 299.00, the 20 February one 349.00.
    clock.freeze(datetime(2027, 1, 20, 10, 1, tzinfo=UTC))
    ticks.renewals()
    billing.work()
    clock.freeze(datetime(2027, 2, 20, 10, 1, tzinfo=UTC))
    ticks.renewals()
    billing.work()
    amounts = db.session.scalars(select(Invoice.amount).where(Invoice.subscription_id == sub.id,
                                                              Invoice.kind == "renewal").order_by(Invoice.id)).all()
    assert amounts == [29900, 34900]


def test_staff_move_every_subscriber_of_a_plan_to_its_new_price_at_once(staff, billing):
    first, second = paid_subscription(billing), paid_subscription(billing)
    plan = db.session.scalar(select(Plan).where(Plan.code == "monthly"))
    plan.amount = 34900
    db.session.commit()
    url = f"/admin/plans/{plan.id}/move-subscribers"
    review = staff.post(url, {"reason": "2027 prices"}, htmx=True).get_data(as_text=True)
    assert "<strong>2</strong> live subscriptions pay another price" in review
    action, page = run_action(staff, billing, staff.post(url, {"reason": "2027 prices", "confirm": "yes"},
                                                         htmx=True))
    assert action.details["state"] == "succeeded"
    assert "Subscriptions moving to RUB 349.00 at their first renewal after 30 days of notice: 2." in page
    assert [reload(Subscription, s.id).scheduled_amount for s in (first, second)] == [34900, 34900]
    nothing_left = staff.post(url, {"reason": "again"}, htmx=True)
    assert nothing_left.status_code == 409 and "moving to it already" in nothing_left.get_data(as_text=True)


def test_the_subscription_page_offers_only_the_actions_that_can_apply(staff, billing):
    sub = paid_subscription(billing)
    actions = staff.get(f"/admin/subscriptions/{sub.id}").get_data(as_text=True).split('id="actions"')[1]
    actions = actions.split("</section>")[0]
    for offered in ("/cancel", "/grant", "/change-plan", "/pause", "/remove-card"):
        assert offered in actions, offered
    # Active and paid up: nothing to retry, nothing to resume, already at the plan's price.
    for refused in ("/retry-charge", "/resume", "/move-price"):
        assert refused not in actions, refused

    run_action(staff, billing, staff.post(f"/admin/subscriptions/{sub.id}/cancel",
                                          {"when": "now", "reason": "asked", "confirm": "yes"}, htmx=True))
    ended = staff.get(f"/admin/subscriptions/{sub.id}").get_data(as_text=True).split('id="actions"')[1]
    ended = ended.split("</section>")[0]
    # Ended: only a new checkout for the customer is offered.
    assert f"/admin/subscriptions/{sub.id}/resubscribe" in ended
    for refused in ("/cancel", "/grant", "/change-plan", "/pause", "/remove-card", "/replace-card", "/move-price"):
        assert refused not in ended, refused


def test_staff_open_a_card_check_whose_link_lets_the_customer_replace_the_renewal_card(staff, billing, app):
    import re
    from urllib.parse import urlsplit

    from portal.billing.checkout import widget_parameters
    from tests.flows.conftest import LATER_DECLINED_CARD, SUCCESS_CARD

    sub = paid_subscription(billing, card=LATER_DECLINED_CARD)
    page = staff.get(f"/admin/subscriptions/{sub.id}").get_data(as_text=True)
    assert f"/admin/subscriptions/{sub.id}/replace-card" in page.split('id="actions"')[1].split("</section>")[0]
    url = f"/admin/subscriptions/{sub.id}/replace-card"
    review = staff.post(url, {"reason": "customer cannot find the button"}, htmx=True).get_data(as_text=True)
    assert 'id="replace-card-confirm"' in review

    action, page = run_action(staff, billing, staff.post(
        url, {"reason": "customer cannot find the button", "confirm": "yes"}, htmx=True))

    assert action.details["state"] == "succeeded", action.details
    check = db.session.get(Invoice, action.details["invoice_id"])
    assert (check.kind, check.status, check.amount, check.subscription_id) == ("card_check", "open", 100, sub.id)
    link = re.search(r"(https?://\S+/mail/pay/\S+)", action.details["result"]).group(1)
    # The customer, not signed in, follows the link to the card check's payment page.
    customer = app.test_client()
    landing = customer.get(urlsplit(link).path, follow_redirects=True)
    assert landing.status_code == 200 and f"/account/pay/{check.id}" in landing.request.path

    assert billing.pay(widget_parameters(check), card=SUCCESS_CARD)["Success"] is True
    billing.work()
    billing.work()
    sub = reload(Subscription, sub.id)
    assert sub.payment_method.card_last_four == "3055"
    assert "replace_card" in [event for event, _ in _timeline(sub.id)]


def test_staff_cannot_replace_the_card_of_an_ended_subscription(staff, billing):
    sub = paid_subscription(billing)
    run_action(staff, billing, staff.post(f"/admin/subscriptions/{sub.id}/cancel",
                                          {"when": "now", "reason": "asked", "confirm": "yes"}, htmx=True))
    refused = staff.post(f"/admin/subscriptions/{sub.id}/replace-card", {"reason": "lost card"}, htmx=True)
    assert refused.status_code == 409 and "only a live subscription" in refused.get_data(as_text=True)
    assert db.session.scalar(select(Invoice.id).where(Invoice.subscription_id == sub.id,
                                                      Invoice.kind == "card_check")) is None


def test_staff_resubscribe_the_customer_of_an_ended_subscription_with_a_checkout_link(staff, billing, app):
    import re
    from urllib.parse import urlsplit

    sub = paid_subscription(billing)
    run_action(staff, billing, staff.post(f"/admin/subscriptions/{sub.id}/cancel",
                                          {"when": "now", "reason": "asked", "confirm": "yes"}, htmx=True))
    url = f"/admin/subscriptions/{sub.id}/resubscribe"
    form = staff.get(url, htmx=True).get_data(as_text=True)
    assert 'value="monthly" selected' in form
    review = staff.post(url, {"plan": "monthly", "reason": "came back by phone"}, htmx=True).get_data(as_text=True)
    assert 'id="resubscribe-confirm"' in review and "RUB 299.00" in review

    action, _ = run_action(staff, billing, staff.post(
        url, {"plan": "monthly", "reason": "came back by phone", "confirm": "yes"}, htmx=True))

    assert action.details["state"] == "succeeded", action.details
    new = reload(Subscription, action.details["subscription_id"])
    invoice = db.session.get(Invoice, action.details["invoice_id"])
    assert (new.status, new.customer_id, new.plan.code) == ("pending", sub.customer_id, "monthly")
    # The customer had their trial (or paid at once): the checkout charges the price, and history is kept.
    assert (invoice.kind, invoice.status, invoice.amount) == ("initial", "open", 29900)
    assert reload(Subscription, sub.id).status == "canceled"
    link = re.search(r"(https?://\S+/mail/pay/\S+)", action.details["result"]).group(1)
    landing = app.test_client().get(urlsplit(link).path, follow_redirects=True)
    assert landing.status_code == 200 and landing.request.path == f"/account/pay/{invoice.id}"

    # Asked again while that checkout is open: the same checkout and invoice, no second pending subscription.
    again, _ = run_action(staff, billing, staff.post(
        url, {"plan": "monthly", "reason": "asked twice", "confirm": "yes"}, htmx=True))
    assert (again.details["subscription_id"], again.details["invoice_id"]) == (new.id, invoice.id)
    assert db.session.scalar(select(func.count()).select_from(Subscription).where(
        Subscription.customer_id == sub.customer_id, Subscription.status == "pending")) == 1


def test_staff_cannot_resubscribe_a_live_subscription(staff, billing):
    sub = paid_subscription(billing)
    refused = staff.post(f"/admin/subscriptions/{sub.id}/resubscribe", {"plan": "monthly", "reason": "x"}, htmx=True)
    assert refused.status_code == 409 and "only after it ended" in refused.get_data(as_text=True)
