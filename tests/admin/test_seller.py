"""Seller settings: staff fill in the legal details receipts need; every change is audited; without them no
receipt is asked for and the page says so."""
from sqlalchemy import select

from portal.billing.seller_settings import inn_valid
from portal.extensions import db
from portal.models import SellerSettings, StaffAction
from tests.factories import make_plan

FORM = {"legal_name": "ООО «Кинозал»", "inn": "7707083893", "address": "Москва, ул. Примерная, 1",
        "receipts_email": "receipts@kinozal.example", "taxation": "osn", "vat_default": "general",
        "payment_subject": "service", "payment_method": "full_prepayment"}


def test_without_seller_settings_staff_see_that_receipts_are_not_sent(staff):
    page = staff.get("/admin/seller").get_data(as_text=True)
    assert 'id="receipts-off"' in page and "payments go without fiscal receipts" in page


def test_saving_seller_settings_is_audited_and_turns_receipts_on(staff):
    make_plan(code="kids")
    response = staff.post("/admin/seller", {**FORM, "vat_plan_kids": "10"})
    assert response.status_code == 303
    db.session.expire_all()
    settings = db.session.get(SellerSettings, 1)
    assert (settings.inn, settings.taxation, settings.vat_default, settings.vat_by_plan) == (
        "7707083893", "osn", "general", {"kids": "10"})
    [action] = db.session.scalars(select(StaffAction)).all()
    assert (action.action, action.target_type, action.remote_addr) == ("seller.update", "seller", "203.0.113.7")
    assert action.details["changes"]["inn"] == [None, "7707083893"]
    assert 'id="receipts-on"' in staff.get("/admin/seller").get_data(as_text=True)


def test_a_wrong_inn_or_unknown_choice_is_refused_field_by_field(staff):
    response = staff.post("/admin/seller", {**FORM, "inn": "7707083890", "taxation": "flat", "receipts_email": "x"})
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    for message in ("valid check digits", "Choose one of the listed values", "receipts are sent from"):
        assert message in text
    assert db.session.get(SellerSettings, 1) is None


def test_inn_check_digits():
    assert inn_valid("7707083893") and inn_valid("500100732259")
    assert not inn_valid("7707083894") and not inn_valid("500100732250") and not inn_valid("12345")


def test_the_staff_payment_page_and_review_queue_show_a_failed_receipt_with_its_reason(staff):
    from portal.models import FiscalReceipt, Payment
    from tests.factories import make_invoice

    invoice = make_invoice(status="paid")
    payment = Payment(provider="yookassa", provider_transaction_id="2f0c-receipt-test", invoice_id=invoice.id,
                      customer_id=invoice.customer_id, amount=29900, currency="RUB", status="completed")
    db.session.add(payment)
    db.session.flush()
    db.session.add(FiscalReceipt(provider="yookassa", kind="income", status="failed", payment_id=payment.id,
                                 amount=29900, currency="RUB", failure="the till canceled the receipt's registration",
                                 attempts=1))
    db.session.commit()

    for path in (f"/admin/payments/{payment.id}", "/admin/review"):
        page = staff.get(path).get_data(as_text=True)
        assert "the till canceled the receipt&#39;s registration" in page and "income" in page
