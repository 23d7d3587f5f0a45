"""A receipt on CloudPayments' wire: CloudKassir's CustomerReceipt (shared/receipts-54fz.md), carried in
the widget's data and in JsonData of token charges, confirms and refunds."""
from __future__ import annotations

from portal.providers.cloudpayments_models import to_major
from portal.providers.receipt import PaymentMethodSign, PaymentSubject, Receipt, Taxation, Vat

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
