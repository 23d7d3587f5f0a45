"""A receipt on YooKassa's wire: the `receipt` object of POST /payments, /capture and /refunds
(shared/receipts-54fz.md); an item's amount is its unit price."""
from __future__ import annotations

from portal.providers.receipt import Receipt, Taxation, Vat
from portal.providers.yookassa_models import amount

TAX_SYSTEM_CODE = {Taxation.OSN: 1, Taxation.USN_INCOME: 2, Taxation.USN_INCOME_OUTCOME: 3, Taxation.ENVD: 4,
                   Taxation.ESHN: 5, Taxation.PATENT: 6}
VAT_CODE = {Vat.NONE: 1, Vat.VAT0: 2, Vat.VAT10: 3, Vat.VAT20: 4, Vat.VAT10_110: 5, Vat.VAT20_120: 6,
            Vat.VAT22: 11, Vat.VAT22_122: 12}


def receipt_object(receipt: Receipt) -> dict:
    customer = {key: value for key, value in (("email", receipt.email), ("phone", receipt.phone)) if value}
    return {
        "customer": customer,
        "tax_system_code": TAX_SYSTEM_CODE[receipt.taxation],
        "items": [{
            "description": line.name,
            "quantity": f"{line.quantity}.00",
            "amount": amount(line.price_minor, receipt.currency),
            "vat_code": VAT_CODE[line.vat],
            "payment_mode": str(line.method),
            "payment_subject": str(line.subject),
            "measure": "piece",
        } for line in receipt.lines],
    }
