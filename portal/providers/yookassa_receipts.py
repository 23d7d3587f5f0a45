"""A receipt on YooKassa's wire: the `receipt` object of POST /payments, /capture and /refunds
(shared/receipts-54fz.md); an item's amount is its unit price."""
from __future__ import annotations

from portal.providers import yookassa_models as models
from portal.providers.receipt import FiscalAnswer, FiscalStatus, Receipt, ReceiptKind, Taxation, Vat, qr_string
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


def receipt_field(receipt: Receipt | None) -> dict:
    """`{"receipt": …}` to spread into a request body, or nothing when no receipt goes with it."""
    return {"receipt": receipt_object(receipt)} if receipt is not None else {}


STATUSES = {"pending": FiscalStatus.PENDING, "succeeded": FiscalStatus.REGISTERED, "canceled": FiscalStatus.FAILED}


def fiscal_answer(item: dict, payment_transaction_id: str) -> FiscalAnswer:
    """A receipt object of GET /receipts in billing's words; YooKassa gives no link, so the QR string is built."""
    kind = ReceiptKind.INCOME_RETURN if item.get("type") == "refund" else ReceiptKind.INCOME
    status = STATUSES.get(item.get("status"), FiscalStatus.PENDING)
    registered_at = models.parse_time(item["registered_at"]) if item.get("registered_at") else None
    total = sum(models.to_minor(i["amount"]["value"]) * round(float(i.get("quantity") or 1))
                for i in item.get("items") or [])
    storage, document, sign = (item.get("fiscal_storage_number"), item.get("fiscal_document_number"),
                               item.get("fiscal_attribute"))
    qr = qr_string(registered_at, total, storage, document, sign, kind) \
        if status == FiscalStatus.REGISTERED and registered_at and storage else None
    return FiscalAnswer(
        provider="yookassa", status=status, kind=kind, payment_transaction_id=item.get("payment_id")
        or payment_transaction_id, refund_id=item.get("refund_id"), provider_receipt_id=item.get("id"),
        amount_minor=total or None, fiscal_storage_number=storage, fiscal_document_number=document,
        fiscal_sign=sign, registered_at=registered_at, qr=qr,
        failure="the till canceled the receipt's registration" if status == FiscalStatus.FAILED else None)


def registration(receipt: Receipt, payment_transaction_id: str, refund_id: str | None) -> dict:
    """The POST /receipts body for a receipt asked again after its payment (or refund)."""
    owner = {"type": "refund", "refund_id": refund_id} if refund_id else {
        "type": "payment", "payment_id": payment_transaction_id}
    body = receipt_object(receipt)
    return {**owner, **body, "send": True,
            "settlements": [{"type": "cashless", "amount": amount(receipt.total_minor, receipt.currency)}]}
