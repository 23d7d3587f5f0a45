"""What the customer sees of a receipt: the fiscal attributes on the receipt page, the seller's legal
details, and the invoice and receipt as PDF downloads whose text says the same."""
import io

from pypdf import PdfReader
from sqlalchemy import select

from portal.extensions import db
from portal.models import FiscalReceipt, Payment
from tests.auth.helpers import sign_in
from tests.factories import make_customer, make_invoice, make_subscription
from tests.receipts.support import make_seller
from tests.receipts.test_flows import subscribed


def pdf_text(response) -> str:
    assert response.status_code == 200 and response.content_type == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)


def test_the_receipt_page_and_its_pdf_show_the_fiscal_attributes_and_the_seller(receipts_billing, app):
    make_seller()
    sub, invoice = subscribed(receipts_billing, "cloudpayments")
    payment = db.session.scalars(select(Payment).where(Payment.invoice_id == invoice.id)).one()
    receipt = db.session.scalars(select(FiscalReceipt).where(FiscalReceipt.payment_id == payment.id)).one()
    client = app.test_client()
    assert sign_in(client, "viewer@example.com").status_code == 303

    page = client.get(f"/account/payments/{payment.id}/receipt", headers={"Accept-Language": "ru"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert receipt.number == f"{receipt.created_at.year}-000001"
    assert f"Квитанция № {receipt.number}" in html and f"№ {payment.id}<" not in html
    for shown in ("Кассовые чеки", receipt.fiscal_storage_number, receipt.fiscal_document_number, receipt.fiscal_sign,
                  "ООО «Кинозал»", "7707083893", receipt.url):
        assert shown in html
    text = pdf_text(client.get(f"/account/payments/{payment.id}/receipt.pdf", headers={"Accept-Language": "ru"}))
    for shown in (f"Квитанция № {receipt.number}", "Продавец", "ООО «Кинозал»", "7707083893",
                  f"Кассовый чек № {receipt.number} · Приход", receipt.fiscal_storage_number,
                  receipt.fiscal_sign, "299,00"):
        assert shown in text


def test_the_invoice_pdf_carries_the_seller_and_the_amount_and_is_the_customers_only(app):
    make_seller()
    customer = make_customer(email="reader@example.com")
    invoice = make_invoice(subscription=make_subscription(customer=customer))
    client = app.test_client()
    assert sign_in(client, customer.email).status_code == 303

    text = pdf_text(client.get(f"/account/invoices/{invoice.id}/invoice.pdf", headers={"Accept-Language": "en"}))
    for shown in (f"Invoice {invoice.number}", "ООО «Кинозал»", "7707083893", "reader@example.com", "RUB 299.00"):
        assert shown in text
    someone_elses = make_invoice()
    assert client.get(f"/account/invoices/{someone_elses.id}/invoice.pdf").status_code == 404
