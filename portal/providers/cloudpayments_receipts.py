"""A receipt on CloudPayments' wire: CloudKassir's CustomerReceipt (shared/receipts-54fz.md), carried in
the widget's data and in JsonData of token charges, confirms and refunds."""
from __future__ import annotations

import re

from portal.providers.base import EventKind, InvalidNotification, Notification
from portal.providers.cloudpayments_models import Fields, parse_datetime, to_major, to_minor
from portal.providers.receipt import (
    FiscalAnswer,
    FiscalStatus,
    PaymentMethodSign,
    PaymentSubject,
    Receipt,
    ReceiptKind,
    Taxation,
    Vat,
    qr_string,
)

PROVIDER = "cloudpayments"

TAXATION = {Taxation.OSN: 0, Taxation.USN_INCOME: 1, Taxation.USN_INCOME_OUTCOME: 2, Taxation.ENVD: 3,
            Taxation.ESHN: 4, Taxation.PATENT: 5}
# None is "без НДС"; 22 and 122 follow the provider's pattern for the 2026 rate (unconfirmed in its docs).
VAT = {Vat.NONE: None, Vat.VAT0: 0, Vat.VAT10: 10, Vat.VAT20: 20, Vat.VAT22: 22, Vat.VAT10_110: 110,
       Vat.VAT20_120: 120, Vat.VAT22_122: 122}
METHOD = {PaymentMethodSign.FULL_PREPAYMENT: 1, PaymentMethodSign.PARTIAL_PREPAYMENT: 2,
          PaymentMethodSign.ADVANCE: 3, PaymentMethodSign.FULL_PAYMENT: 4, PaymentMethodSign.PARTIAL_PAYMENT: 5,
          PaymentMethodSign.CREDIT: 6, PaymentMethodSign.CREDIT_PAYMENT: 7}
SUBJECT = {PaymentSubject.COMMODITY: 1, PaymentSubject.JOB: 3, PaymentSubject.SERVICE: 4,
           PaymentSubject.INTELLECTUAL_ACTIVITY: 9, PaymentSubject.PAYMENT: 10, PaymentSubject.ANOTHER: 13}


def customer_receipt(receipt: Receipt) -> dict:
    """CloudKassir's CustomerReceipt: a card payment is all `electronic`, equal to the positions' sum."""
    body = {
        "Items": [{
            "label": line.name,
            "price": to_major(line.price_minor),
            "quantity": line.quantity,
            "amount": to_major(line.amount_minor),
            "vat": VAT[line.vat],
            "method": METHOD[line.method],
            "object": SUBJECT[line.subject],
            "measurementUnit": "шт",
        } for line in receipt.lines],
        "taxationSystem": TAXATION[receipt.taxation],
        "isBso": False,
        "amounts": {"electronic": to_major(receipt.total_minor)},
    }
    if receipt.email:
        body["email"] = receipt.email
    if receipt.phone:
        body["phone"] = receipt.phone
    return body


def json_data(receipt: Receipt | None, data: dict | None = None) -> dict | None:
    """The JsonData (or widget data) object with the receipt where CloudKassir reads it."""
    if receipt is None:
        return dict(data) if data else None
    return {**(data or {}), "CloudPayments": {"CustomerReceipt": customer_receipt(receipt)}}


_RECEIPT_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
_DIGITS = re.compile(r"[0-9]{1,20}")
TYPES = {"income": ReceiptKind.INCOME, "incomereturn": ReceiptKind.INCOME_RETURN}


def receipt_notification(fields: Fields, raw: dict) -> Notification:
    """CloudKassir's Receipt notification: kept in the inbox under the receipt's Id (it may repeat), its
    fiscal attributes read strictly (ФН, ФД and ФП are digits)."""
    receipt_id = fields.text("Id")
    if receipt_id is None or not _RECEIPT_ID.fullmatch(receipt_id):
        raise InvalidNotification("receipt notification without a readable Id")
    try:
        kind = TYPES.get((fields.text("Type") or "").lower())
        if kind is None:
            raise ValueError(f"Type {str(fields.text('Type'))[:20]!r} is not Income or IncomeReturn")
        transaction_id = fields.key("TransactionId")
        amount_minor = to_minor(fields.get("Amount"))
        storage, document, sign = (_digits(fields, "FiscalNumber"), _digits(fields, "DocumentNumber"),
                                   _digits(fields, "FiscalSign"))
        moment = parse_datetime(fields.get("DateTime"))
    except ValueError as error:
        raise InvalidNotification(f"malformed receipt notification: {error}", transaction_id=receipt_id) from None
    qr = qr_string(moment, amount_minor, storage, document, sign, kind) if moment and storage and document \
        and sign else None
    answer = FiscalAnswer(
        provider=PROVIDER, status=FiscalStatus.REGISTERED, kind=kind, payment_transaction_id=transaction_id,
        refund_id=transaction_id if kind == ReceiptKind.INCOME_RETURN else None, provider_receipt_id=receipt_id,
        amount_minor=amount_minor, fiscal_storage_number=storage, fiscal_document_number=document,
        fiscal_sign=sign, register_number=_digits(fields, "RegNumber"), registered_at=moment,
        url=_link(fields.text("Url")), qr=qr)
    return Notification(
        kind="receipt", transaction_id=receipt_id, amount_minor=amount_minor, currency=None,
        invoice_id=fields.text("InvoiceId"), account_id=fields.text("AccountId"), email=None, status="registered",
        operation_type=None, reason=None, reason_code=None, token=None, card_first_six=None, card_last_four=None,
        card_type=None, card_exp=None, payment_transaction_id=transaction_id, occurred_at=moment,
        test_mode=False, data={}, raw=raw, provider=PROVIDER, event=EventKind.RECEIPT_REPORTED, fiscal=answer)


def _digits(fields: Fields, name: str) -> str | None:
    value = fields.text(name)
    if value is not None and not _DIGITS.fullmatch(value):
        raise ValueError(f"{name} is not digits")
    return value


def _link(url: str | None) -> str | None:
    return url if url and url.startswith(("https://", "http://")) and len(url) <= 2000 else None
