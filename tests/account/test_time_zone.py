"""A person chooses the zone their times are counted in, on the account page: the pages (and mails) follow it."""
from datetime import UTC, datetime

from portal.extensions import db
from portal.models import Payment, User
from tests.auth.helpers import csrf_token, post, signed_in_customer
from tests.factories import make_invoice, make_subscription


def _paid_at(customer, moment):
    sub = make_subscription("active", customer=customer)
    invoice = make_invoice(sub, status="paid")
    db.session.add(Payment(provider="cloudpayments", provider_transaction_id=f"tz-{customer.id}",
                           invoice_id=invoice.id, customer_id=customer.id, amount=invoice.amount, currency="RUB",
                           status="completed", created_at=moment))
    db.session.commit()


def test_a_customer_chooses_vladivostok_and_the_payment_times_follow(client, app):
    customer = signed_in_customer(client)
    _paid_at(customer, datetime(2026, 12, 6, 21, 53, tzinfo=UTC))
    page = client.get("/account", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert '<option value="Europe/Moscow" selected>Москва (GMT+03:00)</option>' in page
    assert "7 декабря 2026, 00:53 (мск)" in page

    response = post(client, "/account/time-zone", {"time_zone": "Asia/Vladivostok"},
                    headers={"Accept-Language": "ru"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/account#time-zone")
    assert db.session.get(User, customer.id).time_zone == "Asia/Vladivostok"
    page = client.get("/account", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "Время теперь показывается по поясу: Владивосток (GMT+10:00)." in page
    assert "7 декабря 2026, 07:53 (GMT+10:00)" in page
    assert '<option value="Asia/Vladivostok" selected>Владивосток (GMT+10:00)</option>' in page
    english = client.get("/account", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<option value="Asia/Vladivostok" selected>Vladivostok (GMT+10:00)</option>' in english


def test_a_zone_the_site_does_not_know_is_refused_with_a_message_and_nothing_changes(client, app):
    customer = signed_in_customer(client)
    response = post(client, "/account/time-zone", {"time_zone": "Mars/Olympus_Mons"})
    assert response.status_code == 422
    assert "That is not a time zone this site knows" in response.get_data(as_text=True)
    assert db.session.get(User, customer.id).time_zone is None
    refused = client.post("/account/time-zone", data={"time_zone": "Asia/Vladivostok",
                                                      "csrf_token": csrf_token(client, "/account") + "x"})
    assert refused.status_code in (400, 403) and db.session.get(User, customer.id).time_zone is None
