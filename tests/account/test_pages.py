"""The customer's own pages: what they show, what they refuse, and that they never show another customer's."""
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.billing.cancellation import refund_if_cancelled_now
from portal.extensions import db
from portal.models import Payment, Refund, Subscription
from portal.queue import billing_queue
from tests.account.support import fragment, start_checkout, subscribe
from tests.auth.helpers import post, signed_in_customer
from tests.factories import make_customer, make_invoice, make_plan, make_subscription
from tests.flows.conftest import DECLINED_CARD


def page(client, path):
    return client.get(path, headers={"Accept-Language": "en"})


def test_empty_account_says_what_to_do_next(client, app):
    signed_in_customer(client)
    html = page(client, "/account").get_data(as_text=True)
    assert "No subscription yet" in html and "Choose a plan" in html and "No invoices yet" in html


def test_one_view_serves_the_page_or_its_fragment_and_says_so_in_vary(client, app):
    signed_in_customer(client)
    full = page(client, "/account")
    assert "<html" in full.get_data(as_text=True) and "HX-Request" in full.headers["Vary"]
    part = fragment(client, "/account")
    html = part.get_data(as_text=True)
    assert "<html" not in html and html.lstrip().startswith("<section id=\"subscription\"")
    assert "HX-Request" in part.headers["Vary"]
    # A boosted navigation or a history restore needs the whole page.
    restored = fragment(client, "/account", **{"HX-History-Restore-Request": "true"})
    assert "<html" in restored.get_data(as_text=True)


@pytest.fixture
def strangers_records(app):
    """Another customer's active subscription with a paid invoice and a payment."""
    plan = make_plan(code="monthly")
    sub = make_subscription(status="active", plan=plan, customer=make_customer())
    invoice = make_invoice(sub, status="paid")
    payment = Payment(provider="sandbox", provider_transaction_id="777", invoice_id=invoice.id,
                      customer_id=sub.customer_id, amount=invoice.amount, currency="RUB", status="completed")
    db.session.add(payment)
    db.session.commit()
    return sub, invoice, payment


@pytest.mark.parametrize("path", [
    "/account/subscriptions/{sub}",
    "/account/subscriptions/{sub}/cancel",
    "/account/invoices/{invoice}",
    "/account/pay/{invoice}",
    "/account/pay/{invoice}/status",
    "/account/payments/{payment}/receipt",
    "/account/subscriptions/99999999999",
    "/account/invoices/0",
])
def test_another_customers_records_do_not_exist(client, strangers_records, path):
    sub, invoice, payment = strangers_records
    signed_in_customer(client)
    url = path.format(sub=sub.id, invoice=invoice.id, payment=payment.id)
    as_page = page(client, url)
    as_fragment = fragment(client, url)
    assert as_page.status_code == 404 and as_fragment.status_code == 404
    for response in (as_page, as_fragment):
        html = response.get_data(as_text=True)
        assert "777" not in html and sub.plan.name_en not in html and sub.plan.name_ru not in html
    assert "<html" not in as_fragment.get_data(as_text=True)


@pytest.mark.parametrize("path,data", [
    ("/account/subscriptions/{sub}/auto-renew", {"auto_renew": "off"}),
    ("/account/subscriptions/{sub}/cancel", {}),
    ("/account/subscriptions/{sub}/pay-now", {}),
])
def test_another_customers_subscription_cannot_be_changed(client, strangers_records, path, data):
    sub, _, _ = strangers_records
    signed_in_customer(client)
    for htmx in (False, True):
        response = post(client, path.format(sub=sub.id), data, htmx=htmx)
        assert response.status_code == 404
    assert billing_queue().count == 0
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).status == "active"


def test_a_change_without_the_csrf_token_is_refused_and_changes_nothing(client, app):
    sub = make_subscription(status="active", customer=signed_in_customer(client))
    response = client.post(f"/account/subscriptions/{sub.id}/cancel", headers={"Accept-Language": "en"})
    assert response.status_code == 400 and "Reload the page" in response.get_data(as_text=True)
    assert billing_queue().count == 0


def test_the_catalogue_offers_plans_and_marks_the_one_the_customer_has(client, billing):
    make_plan(code="monthly")
    make_plan(code="yearly", amount=299000, interval_unit="year")
    anonymous = page(client, "/").get_data(as_text=True)
    assert 'href="/account/checkout/monthly"' in anonymous

    signed_in_customer(client)
    sub, _, _ = subscribe(client, billing)
    html = page(client, "/").get_data(as_text=True)
    assert "You are subscribed to Monthly" in html and "Your plan" in html
    assert 'id="choose-yearly"' not in html  # one live subscription at a time


def test_checkout_shows_the_widget_and_the_status_polls_until_active(client, billing):
    make_plan(code="monthly", amount=29900)
    signed_in_customer(client)
    invoice, params, pay_page = start_checkout(client, "monthly")
    html = pay_page.get_data(as_text=True)
    widget_url = f"{billing.live.sandbox_url}/widget.js"
    assert f'<script src="{widget_url}" defer></script>' in html
    assert billing.live.sandbox_url in pay_page.headers["Content-Security-Policy"]
    assert (params["amount"], params["invoiceId"], params["scheme"]) == (299.0, str(invoice.id), "charge")
    assert "Pay RUB 299.00" in html

    status_url = f"/account/pay/{invoice.id}/status?after=0"
    assert billing.pay(params)["Success"] is True
    waiting = fragment(client, status_url).get_data(as_text=True)
    assert 'hx-trigger="every 1.5s"' in waiting and "Waiting for the confirmation" in waiting

    billing.work()
    done = fragment(client, status_url)
    html = done.get_data(as_text=True)
    assert "Your subscription is active." in html and "Paid period:" in html
    assert "hx-trigger" not in html  # polling stops
    assert "HX-Request" in done.headers["Vary"]


def test_a_decline_is_said_in_plain_words_and_another_card_can_follow(client, billing):
    make_plan(code="monthly")
    signed_in_customer(client)
    invoice, params, _ = start_checkout(client, "monthly")
    assert billing.pay(params, card=DECLINED_CARD)["Success"] is False
    billing.work()
    declined = fragment(client, f"/account/pay/{invoice.id}/status?after=0").get_data(as_text=True)
    assert "The payment was declined:" in declined and "Insufficient funds" in declined
    assert "Try another card" in declined and "hx-trigger" not in declined
    declined_id = db.session.scalar(select(Payment.id))
    # The retry waits past the declined attempt, not on it.
    assert f'data-status-url="/account/pay/{invoice.id}/status?after={declined_id}"' in declined

    assert billing.pay(params)["Success"] is True
    waiting = fragment(client, f"/account/pay/{invoice.id}/status?after={declined_id}").get_data(as_text=True)
    assert "hx-trigger" in waiting
    billing.work()
    assert "Your subscription is active." in fragment(
        client, f"/account/pay/{invoice.id}/status?after={declined_id}").get_data(as_text=True)


def test_the_declined_message_is_in_russian_for_russian_readers(client, billing):
    make_plan(code="monthly")
    signed_in_customer(client)
    invoice, params, _ = start_checkout(client, "monthly")
    billing.pay(params, card=DECLINED_CARD)
    billing.work()
    html = fragment(client, f"/account/pay/{invoice.id}/status?after=0", **{"Accept-Language": "ru"}).get_data(
        as_text=True)
    assert "Недостаточно средств на карте" in html and "Попробовать другую карту" in html


def test_status_polling_gives_up_politely(client, billing):
    make_plan(code="monthly")
    signed_in_customer(client)
    invoice, _, _ = start_checkout(client, "monthly")
    html = fragment(client, f"/account/pay/{invoice.id}/status?after=0&n=79").get_data(as_text=True)
    assert "taking longer than usual" in html and "hx-trigger" not in html


def test_my_subscription_shows_plan_period_next_charge_and_card(client, billing):
    make_plan(code="monthly", amount=29900)
    signed_in_customer(client)
    sub, invoice, outcome = subscribe(client, billing)
    assert sub.status == "active"
    html = page(client, "/account").get_data(as_text=True)
    assert "Active" in html and "Monthly" in html and "RUB 299.00 per month" in html
    assert "•••• 3055" in html
    assert "RUB 299.00 on" in html  # next charge
    assert f'id="invoice-{invoice.id}"' in html and "Paid" in html
    payment = db.session.scalar(select(Payment))
    receipt = page(client, f"/account/payments/{payment.id}/receipt").get_data(as_text=True)
    assert str(outcome["TransactionId"]) in receipt and "RUB 299.00" in receipt and "data-print" in receipt


def test_auto_renew_off_and_on_again(client, billing):
    make_plan(code="monthly")
    signed_in_customer(client)
    sub, _, _ = subscribe(client, billing)

    pending = post(client, f"/account/subscriptions/{sub.id}/auto-renew", {"auto_renew": "off"}, htmx=True)
    html = pending.get_data(as_text=True)
    assert pending.status_code == 200 and "Turning auto-renew off" in html and "hx-trigger" in html
    billing.work()
    landed = fragment(client, f"/account/subscriptions/{sub.id}?change=cancel_period_end")
    html = landed.get_data(as_text=True)
    assert "hx-trigger" not in html and "Turn auto-renew on" in html and "Nothing more will be charged" in html
    assert landed.headers["HX-Trigger"] == "billing-changed"

    post(client, f"/account/subscriptions/{sub.id}/auto-renew", {"auto_renew": "on"}, htmx=True)
    billing.work()
    html = fragment(client, f"/account/subscriptions/{sub.id}?change=undo_cancel").get_data(as_text=True)
    assert "Turn auto-renew off" in html
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).cancel_at_period_end is False


def test_without_javascript_the_forms_still_work(client, billing):
    make_plan(code="monthly")
    signed_in_customer(client)
    sub, _, _ = subscribe(client, billing)
    response = post(client, f"/account/subscriptions/{sub.id}/auto-renew", {"auto_renew": "off"})
    assert response.status_code == 303 and response.headers["Location"] == "/account?change=cancel_period_end"
    # Before the job has run the page says so and asks again by itself; it never claims what the card denies.
    waiting = page(client, response.headers["Location"]).get_data(as_text=True)
    assert "Turning auto-renew off…" in waiting and '<meta http-equiv="refresh"' in waiting
    assert 'id="change-landed"' not in waiting
    billing.work()
    landed = page(client, response.headers["Location"]).get_data(as_text=True)
    assert 'id="change-landed">' in landed and "Auto-renew is off. You keep access until the period ends." in landed
    assert '<meta http-equiv="refresh"' not in landed and 'id="auto-renew-state">Off<' in landed


def test_without_javascript_cancel_now_is_a_page_that_waits_for_the_job_then_shows_the_refund(client, billing):
    make_plan(code="monthly", amount=29900)
    signed_in_customer(client)
    sub, _, _ = subscribe(client, billing)
    clock.freeze(sub.current_period_start + timedelta(days=10, hours=1))
    shown = f"RUB {refund_if_cancelled_now(sub) // 100}.{refund_if_cancelled_now(sub) % 100:02d}"
    confirm = page(client, f"/account/subscriptions/{sub.id}/cancel").get_data(as_text=True)
    assert f'<strong id="refund-amount">{shown}</strong>' in confirm  # the full page asks first, as htmx's card

    response = post(client, f"/account/subscriptions/{sub.id}/cancel")
    assert response.status_code == 303 and response.headers["Location"] == "/account?change=cancel_now"
    waiting = page(client, response.headers["Location"]).get_data(as_text=True)
    assert "Canceling your subscription…" in waiting and '<meta http-equiv="refresh"' in waiting
    assert 'id="change-landed"' not in waiting and "goes back to your card" not in waiting
    billing.work()
    billing.work()
    landed = page(client, response.headers["Location"]).get_data(as_text=True)
    assert f"Your subscription is canceled. {shown} goes back to your card." in landed
    assert '<meta http-equiv="refresh"' not in landed and "Canceled" in landed


def test_cancel_now_shows_the_refund_before_and_records_it_after(client, billing):
    make_plan(code="monthly", amount=29900)
    signed_in_customer(client)
    sub, _, _ = subscribe(client, billing)
    clock.freeze(sub.current_period_start + timedelta(days=10, hours=1))
    expected = refund_if_cancelled_now(sub)
    assert 0 < expected < 29900

    shown = f"RUB {expected // 100}.{expected % 100:02d}"
    confirm = fragment(client, f"/account/subscriptions/{sub.id}/cancel").get_data(as_text=True)
    assert f'<strong id="refund-amount">{shown}</strong>' in confirm
    assert f"Cancel now and refund {shown}" in confirm
    assert db.session.scalars(select(Refund)).all() == []  # shown, nothing done yet

    assert post(client, f"/account/subscriptions/{sub.id}/cancel", htmx=True).status_code == 200
    billing.work()
    billing.work()
    [refund] = db.session.scalars(select(Refund)).all()
    assert refund.amount == expected and refund.requested_by.startswith("customer:")
    html = page(client, "/account").get_data(as_text=True)
    assert "Canceled" in html and f"{shown}" in html
    # The card the customer watched (htmx polling with the change) confirms it, with the refund's amount.
    landed = fragment(client, f"/account/subscriptions/{sub.id}?change=cancel_now").get_data(as_text=True)
    assert f"Your subscription is canceled. {shown} goes back to your card." in landed


def test_pay_now_refused_when_nothing_is_due_says_so(client, billing):
    make_plan(code="monthly")
    signed_in_customer(client)
    sub, _, _ = subscribe(client, billing)
    response = post(client, f"/account/subscriptions/{sub.id}/pay-now", htmx=True)
    assert response.status_code == 409 and "cannot be done right now" in response.get_data(as_text=True)
    assert billing_queue().count == 0


def test_past_due_shows_why_and_pays_now_with_the_saved_card_or_another(client, billing):
    from tests.account.support import WIDGET_PARAMS
    from tests.flows.conftest import LATER_DECLINED_CARD
    from workers import ticks

    make_plan(code="monthly", amount=29900)
    signed_in_customer(client)
    sub, _, _ = subscribe(client, billing, card=LATER_DECLINED_CARD)
    clock.freeze(sub.current_period_end + timedelta(minutes=1))
    ticks.renewals()
    billing.work()

    html = page(client, "/account").get_data(as_text=True)
    assert "Payment failed" in html and "Your last payment did not go through." in html
    assert "Insufficient funds" in html and "Pay RUB 299.00 now with Visa •••• 1111" in html

    # The saved card declines again: the card polls until the answer is in, then says so.
    charging = post(client, f"/account/subscriptions/{sub.id}/pay-now", htmx=True).get_data(as_text=True)
    assert "Charging your card" in charging and "hx-trigger" in charging
    billing.work()
    after = re.search(r'after=(\d+)', charging).group(1)
    html = fragment(client, f"/account/subscriptions/{sub.id}?change=repay&after={after}").get_data(as_text=True)
    assert "hx-trigger" not in html and "Insufficient funds" in html
    assert re.search(r'class="alert alert-error" role="status" id="change-landed">\s*Your card was declined again\. '
                     r'Insufficient funds\.', html)

    # Another card through the widget pays the renewal invoice.
    another = re.search(r'href="(/account/pay/\d+)"', html).group(1)
    params = json.loads(WIDGET_PARAMS.search(page(client, another).get_data(as_text=True)).group(1))
    assert billing.pay(params)["Success"] is True
    billing.work()
    status = fragment(client, f"{another}/status?after=0").get_data(as_text=True)
    assert "Paid. Thank you!" in status and "hx-trigger" not in status
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).status == "active"
