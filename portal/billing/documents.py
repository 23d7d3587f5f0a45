"""Print-ready PDF documents for the customer: an invoice and a payment receipt with the seller's legal
details and the fiscal attributes of the till's receipts.

fpdf2 makes them: pure Python, installed from PyPI alone (its own dependencies, Pillow, fontTools and
defusedxml, come as wheels), no system library or browser as WeasyPrint or a headless Chrome would need. Its
core fonts are Latin-1 only, so the DejaVu Sans font (free, Bitstream Vera licence) is vendored under
static/fonts for Cyrillic."""
from __future__ import annotations

from pathlib import Path

from flask_babel import get_locale
from flask_babel import gettext as _
from fpdf import FPDF

from portal.billing.fiscal import receipt_number
from portal.money import format_money
from portal.templating import page_date, page_moment

FONT = Path(__file__).resolve().parents[2] / "static" / "fonts" / "DejaVuSans.ttf"


class _Document(FPDF):
    def __init__(self, title: str):
        super().__init__(format="A4")
        self.add_font("DejaVu", fname=str(FONT))
        self.set_title(title)
        self.set_creator("Cinema billing")
        self.add_page()
        self.set_font("DejaVu", size=16)
        self.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
        self.set_font("DejaVu", size=10)

    def fact(self, label: str, value: str) -> None:
        self.set_font("DejaVu", size=9)
        self.cell(60, 6, label)
        self.set_font("DejaVu", size=10)
        self.multi_cell(0, 6, value, new_x="LMARGIN", new_y="NEXT")

    def heading(self, text: str) -> None:
        self.ln(3)
        self.set_font("DejaVu", size=12)
        self.cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
        self.set_font("DejaVu", size=10)

    def seller(self, settings) -> None:
        self.heading(_("Seller"))
        if settings is None:
            self.fact(_("Seller"), "Cinema")
            return
        self.fact(_("Legal name"), settings.legal_name)
        self.fact(_("INN"), settings.inn)
        if settings.address:
            self.fact(_("Address"), settings.address)
        self.fact(_("Email"), settings.receipts_email)


def _money(amount: int, currency: str) -> str:
    return format_money(amount, currency, str(get_locale() or "ru"))


def invoice_pdf(invoice, settings) -> bytes:
    doc = _Document(_("Invoice %(number)s", number=invoice.number))
    doc.seller(settings)
    doc.heading(_("Customer"))
    doc.fact(_("Email"), invoice.customer.email)
    doc.heading(_("Invoice"))
    doc.fact(_("Issued"), page_moment(invoice.created_at))
    doc.fact(_("For"), (invoice.plan or invoice.subscription.plan).name_in(get_locale()))
    if invoice.period_start and invoice.period_end:
        doc.fact(_("Period"), f"{page_date(invoice.period_start)} – {page_date(invoice.period_end)}")
    doc.fact(_("Amount"), _money(invoice.amount, invoice.currency))
    if invoice.amount_refunded:
        doc.fact(_("Refunded"), _money(invoice.amount_refunded, invoice.currency))
    doc.fact(_("Status"), invoice.status)
    return bytes(doc.output())


def receipt_pdf(payment, settings, fiscal_receipts) -> bytes:
    number = receipt_number(fiscal_receipts)
    doc = _Document(_("Receipt %(number)s", number=number) if number else _("Receipt"))
    doc.seller(settings)
    doc.heading(_("Payment"))
    doc.fact(_("Customer"), payment.invoice.customer.email if payment.invoice else "")
    doc.fact(_("Date"), page_moment(payment.created_at))
    if payment.invoice is not None:
        doc.fact(_("Invoice"), _("No. %(number)s", number=payment.invoice.number))
    doc.fact(_("Amount"), _money(payment.amount, payment.currency))
    doc.fact(_("Card"), payment.card_mask or "—")
    doc.fact(_("Transaction"), payment.provider_transaction_id)
    for receipt in fiscal_receipts:
        kind = _("Sale") if receipt.kind == "income" else _("Return of a sale")
        doc.heading(_("Fiscal receipt No. %(number)s · %(kind)s", number=receipt.number, kind=kind))
        doc.fact(_("Amount"), _money(receipt.amount, receipt.currency))
        if receipt.status != "registered":
            doc.fact(_("Status"), _("Being registered by the online till: it will be sent to your email."))
            continue
        doc.fact(_("Fiscal storage number (FN)"), receipt.fiscal_storage_number or "")
        doc.fact(_("Fiscal document number (FD)"), receipt.fiscal_document_number or "")
        doc.fact(_("Fiscal sign (FP)"), receipt.fiscal_sign or "")
        if receipt.registered_at:
            doc.fact(_("Registered"), page_moment(receipt.registered_at))
        if receipt.qr:
            doc.fact(_("QR code data"), receipt.qr)
    return bytes(doc.output())
