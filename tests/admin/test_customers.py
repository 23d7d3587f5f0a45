"""Customer search by each key, and the customer page with everything billing knows about them."""
import pytest

from portal.extensions import db
from portal.models import Invoice, PaymentMethod
from tests.admin.support import completed_payment, paid_subscription
from tests.factories import make_customer


@pytest.fixture
def paying(staff, billing):
    customer = make_customer(email="Jane.Doe@example.com", external_id="auth-42")
    make_customer(email="john@example.com")
    sub = paid_subscription(billing, customer=customer)
    return customer, sub, completed_payment(sub)


def results(staff, q):
    page = staff.get("/admin/customers", query_string={"q": q}, htmx=True).get_data(as_text=True)
    return page


@pytest.mark.parametrize("key", ["email", "email prefix", "external id", "invoice id", "transaction id"])
def test_search_finds_the_customer_by_each_key(staff, paying, key):
    customer, sub, payment = paying
    q = {"email": "JANE.DOE@example.com", "email prefix": "jane.d", "external id": "auth-42",
         "invoice id": str(payment.invoice_id), "transaction id": payment.provider_transaction_id}[key]
    page = results(staff, q)
    assert f'href="/admin/customers/{customer.id}"' in page
    assert "john@example.com" not in page
    assert f'href="/admin/subscriptions/{sub.id}"' in page  # the live subscription, one click away


def test_search_finds_any_part_of_an_email_or_a_name_and_the_card_s_last_four(staff, paying):
    customer, sub, payment = paying
    customer.name = "Jane Ivanova"
    db.session.commit()
    for q in ("doe@example", "example.com", "IVANOVA", "ne Iva", "3055"):
        page = results(staff, q)
        assert f'href="/admin/customers/{customer.id}"' in page, q
    both = results(staff, "example.com")
    assert "john@example.com" in both and "2 matches" in both
    assert "john@example.com" not in results(staff, "3055")  # only Jane paid with •••• 3055
    assert "Nobody matches" in results(staff, "9999")  # four digits of no card


def test_search_with_no_match_says_so(staff, paying):
    assert "Nobody matches" in results(staff, "nobody@example.com")
    assert "Nobody matches" in results(staff, "999999")


def test_customer_page_lists_subscriptions_invoices_payments_refunds_and_cards(staff, billing, paying):
    customer, sub, payment = paying
    staff.post(f"/admin/payments/{payment.id}/refund", {"amount": "50", "reason": "goodwill", "confirm": "yes"})
    billing.work()
    db.session.expire_all()
    page = staff.get(f"/admin/customers/{customer.id}").get_data(as_text=True)
    invoice = db.session.get(Invoice, payment.invoice_id)
    card = db.session.query(PaymentMethod).filter_by(user_id=customer.id).one()
    assert f'href="/admin/subscriptions/{sub.id}"' in page
    assert f'id="invoice-{invoice.id}"' in page
    assert f'id="payment-{payment.id}"' in page and payment.provider_transaction_id in page
    refunds = page[page.index('id="refunds"'):page.index('id="cards"')]
    assert "RUB 50.00" in refunds and "goodwill" in refunds and f"staff:{staff.user.id}" in refunds
    assert card.card_last_four in page[page.index('id="cards"'):]
    assert card.token not in page  # the saved-card token never appears


def test_unknown_customer_is_404(staff):
    assert staff.get("/admin/customers/999").status_code == 404
