"""Staff read moments in their own zone, named, in the one date style of the page's language: a payment made at
00:53 on 7 December in Moscow is 21:53 on the 6th in UTC and 07:53 on the 7th in Vladivostok."""
from datetime import UTC, datetime

from portal.extensions import db
from portal.models import Payment
from tests.factories import make_invoice, make_subscription

PAID_AT = datetime(2026, 12, 6, 21, 53, tzinfo=UTC)


def paid_customer():
    sub = make_subscription("active")
    invoice = make_invoice(sub, status="paid")
    db.session.add(Payment(provider="cloudpayments", provider_transaction_id="zone-1", invoice_id=invoice.id,
                           customer_id=sub.customer_id, amount=invoice.amount, currency="RUB", status="completed",
                           created_at=PAID_AT))
    db.session.commit()
    return sub.customer_id


def payments_of(staff, customer_id, language):
    return staff.client.get(f"/admin/customers/{customer_id}", headers={"Accept-Language": language}).get_data(
        as_text=True)


def test_staff_without_a_zone_of_their_own_read_moscow_time_named(staff):
    customer_id = paid_customer()
    assert "7 декабря 2026, 00:53 (мск)" in payments_of(staff, customer_id, "ru")
    english = payments_of(staff, customer_id, "en")
    assert "December 7, 2026, 00:53 (Moscow time)" in english and "21:53" not in english


def test_staff_who_chose_a_zone_read_every_moment_in_it_in_both_languages(staff):
    customer_id = paid_customer()
    staff.user.time_zone = "Asia/Vladivostok"
    db.session.commit()
    russian = payments_of(staff, customer_id, "ru")
    assert "7 декабря 2026, 07:53 (GMT+10:00)" in russian and "00:53" not in russian
    assert "December 7, 2026, 07:53 (GMT+10:00)" in payments_of(staff, customer_id, "en")
