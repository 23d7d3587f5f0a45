"""YooKassa's notifications at /webhooks/yookassa: no signature, so the sender's address is checked and the
object is fetched from the API before anything is applied; stored once, answered 200."""
import json

import requests
from sqlalchemy import select

from portal.billing.provider_choice import set_default_provider
from portal.extensions import db
from portal.models import Payment, Subscription, WebhookEvent
from tests.factories import make_customer, make_plan
from tests.flows.test_every_provider import checkout


def yookassa_checkout(billing, live):
    # Invoice ids start again in every test: so does the sandbox (its Idempotence-Keys name invoices).
    requests.post(f"{live.yookassa_url}/_control/reset", timeout=5).raise_for_status()
    requests.post(f"{live.yookassa_url}/_control", json={"webhook_url": ""}, timeout=5).raise_for_status()
    set_default_provider("RUB", "yookassa", actor="staff:test")
    db.session.commit()
    make_plan(code="monthly", amount=29900)
    return checkout()


def paid_at_yookassa(live, params):
    """Paid in the widget, the sandbox's own notification switched off: the test posts it instead."""
    answer = requests.post(f"{live.yookassa_url}/widget/pay", timeout=10, json={
        "confirmation_token": params["confirmation_token"],
        "card": {"number": "5555555555554444", "expiry_month": "12", "expiry_year": "2030", "csc": "123"}})
    assert answer.status_code == 200, answer.text
    return answer.json()


def notify(client, obj, event="payment.succeeded", remote_addr="127.0.0.1"):
    body = json.dumps({"type": "notification", "event": event, "object": obj})
    return client.post("/webhooks/yookassa", data=body, content_type="application/json",
                       environ_base={"REMOTE_ADDR": remote_addr})


def test_a_notification_from_outside_the_published_ranges_is_refused_recorded_and_changes_nothing(billing, live,
                                                                                                    client):
    sub, _, params = yookassa_checkout(billing, live)
    payment = paid_at_yookassa(live, params)
    answer = notify(client, payment, remote_addr="203.0.113.9")
    assert answer.status_code == 401
    [event] = db.session.scalars(select(WebhookEvent)).all()
    assert (event.provider, event.status, event.rejection) == (
        "yookassa", "rejected", "sender not in the provider's published address ranges")
    billing.work()
    assert db.session.get(Subscription, sub.id).status == "pending"


def test_a_notification_is_stored_once_and_applied_as_the_api_reports_the_payment(billing, live, client):
    sub, invoice, params = yookassa_checkout(billing, live)
    payment = paid_at_yookassa(live, params)
    claimed = {**payment, "amount": {"value": "1.00", "currency": "RUB"}}  # the body lies about the amount
    assert [notify(client, claimed).status_code for _ in range(3)] == [200, 200, 200]
    billing.work()
    billing.assert_no_failed_jobs()
    db.session.expire_all()
    [event] = db.session.scalars(select(WebhookEvent)).all()
    assert (event.kind, event.transaction_id, event.status) == ("payment.succeeded", payment["id"], "processed")
    [recorded] = db.session.scalars(select(Payment)).all()
    assert (recorded.amount, recorded.status, recorded.invoice_id) == (29900, "completed", invoice.id)
    assert db.session.get(Subscription, sub.id).status == "active"


def test_a_forged_notification_of_a_payment_yookassa_never_made_fails_for_staff_without_effect(billing, live,
                                                                                                client):
    sub, invoice, _ = yookassa_checkout(billing, live)
    forged = {"id": "2f3c8a1e-000f-5000-8000-1a2b3c4d5e6f", "status": "succeeded", "paid": True,
              "amount": {"value": "299.00", "currency": "RUB"},
              "metadata": {"invoice_id": str(invoice.id), "account_id": f"customer-{sub.customer_id}"}}
    assert notify(client, forged).status_code == 200
    billing.work()
    db.session.expire_all()
    [event] = db.session.scalars(select(WebhookEvent)).all()
    assert event.status == "failed" and "does not have" in event.error
    assert db.session.scalars(select(Payment)).all() == []
    assert db.session.get(Subscription, sub.id).status == "pending"


def test_an_unknown_provider_has_no_webhook(client, app):
    assert client.post("/webhooks/paypal", data=b"{}", content_type="application/json").status_code == 404
    assert client.post("/webhooks/yookassa/pay", data=b"{}", content_type="application/json").status_code == 404


def test_a_payment_whose_notification_never_came_is_found_at_yookassa_by_reconciliation(billing, live):
    from portal.billing.charging import reconcile_invoice

    sub, invoice, params = yookassa_checkout(billing, live)  # the sandbox's notifications are off
    paid_at_yookassa(live, params)
    assert reconcile_invoice(invoice.id) == "recorded"
    billing.work()
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).status == "active"
    assert db.session.scalars(select(Payment)).one().provider == "yookassa"


def test_the_pay_page_says_try_again_when_yookassa_cannot_open_the_payment(billing, live):
    from tests.auth.helpers import sign_in

    requests.post(f"{live.yookassa_url}/_control/reset", timeout=5).raise_for_status()
    set_default_provider("RUB", "yookassa", actor="staff:test")
    make_plan(code="monthly", amount=29900)
    customer = make_customer()
    db.session.commit()
    client = live_app().test_client()
    assert sign_in(client, customer.email).status_code == 303
    requests.post(f"{live.yookassa_url}/_control/faults", json={"operation": "payments.create", "fault": "500_before",
                                                               "count": None}, timeout=5).raise_for_status()
    try:
        started = client.post("/account/checkout", data={"plan": "monthly", "csrf_token": _token(client)})
        page = client.get(started.headers["Location"], headers={"Accept-Language": "en"})
    finally:
        requests.delete(f"{live.yookassa_url}/_control/faults", timeout=5)
    assert page.status_code == 503
    assert "Please try again in a minute" in page.get_data(as_text=True)


def live_app():
    from flask import current_app

    return current_app._get_current_object()


def _token(client):
    import re

    page = client.get("/account").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
