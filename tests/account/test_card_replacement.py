"""Replacing the card at any time: the new card is proven with a small authorisation that is voided at once,
becomes the renewal card, and the next renewal charges it; an expiring card is flagged before it fails."""
import json
import re
from datetime import timedelta

from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import Invoice, Payment, Subscription, Transition
from tests.account.support import WIDGET_PARAMS, fragment, subscribe
from tests.auth.helpers import post, signed_in_customer
from tests.factories import make_plan
from tests.flows.conftest import DECLINED_CARD, LATER_DECLINED_CARD, SUCCESS_CARD
from tests.published import published
from workers import ticks


def page(client, path):
    return client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)


def open_card_check(client, sub):
    """Press "Replace card": lands on the card check's payment page. Returns (invoice, widget params, html)."""
    response = post(client, f"/account/subscriptions/{sub.id}/card")
    assert response.status_code == 303
    html = page(client, response.headers["Location"])
    params = json.loads(WIDGET_PARAMS.search(html).group(1))
    params["scheme"] = re.search(r'data-scheme="(\w+)"', html).group(1)
    return db.session.get(Invoice, int(params["invoiceId"])), params, html


def reload(sub):
    db.session.expire_all()
    return db.session.get(Subscription, sub.id)


def test_a_customer_replaces_the_card_and_the_next_renewal_charges_the_new_one(client, billing):
    make_plan(code="monthly", amount=29900)
    signed_in_customer(client)
    # This card pays the first period but would decline every renewal.
    sub, _, _ = subscribe(client, billing, "monthly", card=LATER_DECLINED_CARD)
    assert reload(sub).payment_method.card_last_four == "1111"
    assert 'id="replace-card"' in page(client, "/account")

    check, params, html = open_card_check(client, sub)
    assert (check.kind, check.amount, check.status) == ("card_check", 100, "open")
    assert params["scheme"] == "auth" and params["amount"] == 1.0
    assert "Replace your card" in html and "Check the new card" in html and "1111" in html
    assert "nothing is charged" in html
    # Asking again reuses the same card check.
    again, _, _ = open_card_check(client, sub)
    assert again.id == check.id

    assert billing.pay(params, card=SUCCESS_CARD)["Success"] is True
    billing.work()
    billing.work()
    billing.assert_no_failed_jobs()
    status = fragment(client, f"/account/pay/{check.id}/status?after=0").get_data(as_text=True)
    assert "Your new card is saved." in status and "3055" in status

    sub = reload(sub)
    assert sub.status == "active" and sub.payment_method.card_last_four == "3055"
    assert db.session.get(Invoice, check.id).status == "void"
    [proof] = db.session.scalars(select(Payment).where(Payment.invoice_id == check.id)).all()
    assert proof.status == "voided" and proof.amount_refunded == 0
    [held] = billing.provider_transactions(check.id)
    assert held["Status"] != "Completed"  # authorised, then voided: never captured
    assert db.session.scalar(select(Transition.event).where(
        Transition.entity_type == "subscription", Transition.entity_id == sub.id,
        Transition.event == "replace_card")) == "replace_card"
    [told] = published("subscription.card_replaced", sub.id)
    assert (told["status"], told["card"]) == ("active", {"mask": sub.payment_method.card_mask, "exp": "12/30"})
    assert "3055" in page(client, "/account")

    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    sub = reload(sub)
    renewal = db.session.scalar(select(Invoice).where(Invoice.subscription_id == sub.id, Invoice.kind == "renewal"))
    assert (sub.status, renewal.status) == ("active", "paid")  # the old card would have declined


def test_a_declined_new_card_keeps_the_old_one(client, billing):
    make_plan(code="monthly", amount=29900)
    signed_in_customer(client)
    sub, _, _ = subscribe(client, billing, "monthly")
    check, params, _ = open_card_check(client, sub)
    assert billing.pay(params, card=DECLINED_CARD)["Success"] is False
    billing.work()
    status = fragment(client, f"/account/pay/{check.id}/status?after=0").get_data(as_text=True)
    assert 'id="checkout-declined"' in status and "Try another card" in status
    sub = reload(sub)
    assert sub.payment_method.card_last_four == "3055"
    assert db.session.get(Invoice, check.id).status == "open"  # another card may still be tried


def test_an_expiring_card_is_flagged_before_the_renewal_it_would_fail(client, billing):
    make_plan(code="monthly", amount=29900)
    signed_in_customer(client)
    sub, _, _ = subscribe(client, billing, "monthly")
    assert 'id="card-expiring"' not in page(client, "/account")  # good until 12/30

    sub = reload(sub)
    before_renewal = sub.current_period_end - timedelta(days=31)
    sub.payment_method.card_exp = f"{before_renewal.month:02d}/{before_renewal.year % 100:02d}"
    db.session.commit()
    html = page(client, "/account")
    assert 'id="card-expiring"' in html and "Your card expires before the next charge" in html


def test_an_ended_subscriptions_card_cannot_be_replaced(client, billing):
    make_plan(code="monthly", amount=29900)
    signed_in_customer(client)
    sub, _, _ = subscribe(client, billing, "monthly")
    post(client, f"/account/subscriptions/{sub.id}/cancel", htmx=True)
    billing.work()
    billing.work()
    assert reload(sub).status == "canceled"
    assert 'id="replace-card"' not in page(client, "/account")
    refused = post(client, f"/account/subscriptions/{sub.id}/card")
    assert refused.status_code == 303 and "/account/pay/" not in refused.headers["Location"]
    assert db.session.scalars(select(Invoice).where(Invoice.kind == "card_check")).all() == []


def test_an_abandoned_card_check_closes_after_a_day_and_the_card_stays(client, billing):
    make_plan(code="monthly", amount=29900)
    signed_in_customer(client)
    sub, _, _ = subscribe(client, billing, "monthly")
    check, _, _ = open_card_check(client, sub)
    clock.freeze(check.created_at + timedelta(hours=24, minutes=1))
    ticks.checkout_expiry()
    db.session.expire_all()
    assert db.session.get(Invoice, check.id).status == "void"
    assert reload(sub).payment_method.card_last_four == "3055"



def test_a_paused_customer_replaces_the_card_and_the_resume_charges_the_new_one(client, billing):
    make_plan(code="monthly", amount=29900)
    signed_in_customer(client)
    # This card pays the first period but would decline the charge when the pause ends.
    sub, _, _ = subscribe(client, billing, "monthly", card=LATER_DECLINED_CARD)
    assert post(client, f"/account/subscriptions/{sub.id}/pause", {"months": "1"}).status_code == 303
    billing.work()
    clock.freeze(reload(sub).current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()
    assert reload(sub).status == "paused"
    assert 'id="replace-card"' in page(client, "/account")

    check, params, _ = open_card_check(client, sub)
    assert (check.kind, check.status) == ("card_check", "open")
    assert billing.pay(params, card=SUCCESS_CARD)["Success"] is True
    billing.work()
    billing.work()
    billing.assert_no_failed_jobs()
    status = fragment(client, f"/account/pay/{check.id}/status?after=0").get_data(as_text=True)
    assert "Your new card is saved." in status
    sub = reload(sub)
    assert (sub.status, sub.payment_method.card_last_four) == ("paused", "3055")
    [told] = published("subscription.card_replaced", sub.id)
    assert told["status"] == "paused" and "3055" in told["card"]["mask"]

    assert post(client, f"/account/subscriptions/{sub.id}/resume").status_code == 303
    billing.work()
    billing.work()
    billing.assert_no_failed_jobs()
    sub = reload(sub)
    renewal = db.session.scalar(select(Invoice).where(Invoice.subscription_id == sub.id, Invoice.kind == "renewal"))
    assert (sub.status, renewal.status) == ("active", "paid")  # the old card would have declined
    [charge] = db.session.scalars(select(Payment).where(Payment.invoice_id == renewal.id)).all()
    assert charge.card_last_four == "3055"
