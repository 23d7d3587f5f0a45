"""CloudKassir, as the sandbox plays it (shared/receipts-54fz.md): the CustomerReceipt that came with a
payment (widget data, token charge or confirm JsonData) or a refund (its JsonData) is checked by the
register's rules and registered on one fake register with a growing ФД counter; the merchant gets a signed
Receipt notification. A refused receipt leaves the payment as it is and is listed, with the reason, at
/control/receipts. Each receipt is served as a page at /receipts/<Id> and its QR at /receipts/<Id>/qr."""

from __future__ import annotations

import hashlib
import html
import json
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from flask import Blueprint, Response, has_request_context, jsonify, request

from . import wire

bp = Blueprint("kkt", __name__)

REGISTER_NUMBER = "0000000001002292"  # РН ККТ
FISCAL_STORAGE_NUMBER = "9999078900004792"  # ФН: 9999… marks the sandbox's (the providers' test ФН is a debug one)
DEVICE_NUMBER = "00000000381234"
OFD = "FirstOfd"
SELLER_INN = "7707083893"
INCOME, INCOME_RETURN = "Income", "IncomeReturn"
RECEIPTS_IN_SHIFT = 1000  # the shift closes after so many receipts


@dataclass
class KktReceipt:
    id: str
    type: str
    transaction_id: int
    invoice_id: str | None
    account_id: str | None
    amount: int  # minor units
    document_number: int
    session_number: int
    number: int
    fiscal_sign: str
    registered_at: datetime
    content: dict  # the CustomerReceipt as registered
    base_url: str

    @property
    def qr(self) -> str:
        return (f"t={self.registered_at:%Y%m%dT%H%M}&s={wire.form_amount(self.amount)}&fn={FISCAL_STORAGE_NUMBER}"
                f"&i={self.document_number}&fp={self.fiscal_sign}&n={1 if self.type == INCOME else 2}")

    def notification_fields(self) -> list[tuple[str, str]]:
        url = f"{self.base_url}receipts/{self.id}"
        return [
            ("Id", self.id), ("DocumentNumber", str(self.document_number)), ("SessionNumber", str(self.session_number)),
            ("Number", str(self.number)), ("FiscalSign", self.fiscal_sign), ("DeviceNumber", DEVICE_NUMBER),
            ("RegNumber", REGISTER_NUMBER), ("FiscalNumber", FISCAL_STORAGE_NUMBER), ("Inn", SELLER_INN),
            ("Type", self.type), ("Ofd", OFD), ("Url", url), ("QrCodeUrl", f"{url}/qr"),
            ("Amount", wire.form_amount(self.amount)), ("DateTime", f"{self.registered_at:%Y-%m-%d %H:%M:%S}"),
            ("Receipt", json.dumps(self.content, ensure_ascii=False, separators=(",", ":"))),
            ("TransactionId", str(self.transaction_id)), ("InvoiceId", self.invoice_id or ""),
            ("AccountId", self.account_id or ""),
        ]

    def to_json(self) -> dict:
        return {"Id": self.id, "Type": self.type, "TransactionId": self.transaction_id, "Amount": self.amount / 100,
                "DocumentNumber": self.document_number, "FiscalSign": self.fiscal_sign,
                "FiscalNumber": FISCAL_STORAGE_NUMBER, "RegNumber": REGISTER_NUMBER, "Qr": self.qr,
                "DateTime": f"{self.registered_at:%Y-%m-%d %H:%M:%S}", "Receipt": self.content}


class Register:
    """One register per shop: its counters, the receipts it made and the ones it refused."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.receipts: dict[str, KktReceipt] = {}
        self.refused: list[dict] = []
        self.documents = 0

    def next_numbers(self) -> tuple[int, int, int]:
        """ФД, shift number, number in the shift."""
        self.documents += 1
        shift, number = divmod(self.documents - 1, RECEIPTS_IN_SHIFT)
        return self.documents, shift + 1, number + 1


def _sandbox():
    from .runtime import current  # runtime holds the Register: imported when a view runs

    return current()


def fiscal_sign(document: int, amount: int, moment: datetime) -> str:
    """ФП: ten digits in 1000000000..4294967295 derived from (ФН, ФД, amount, time): a replay shows the same."""
    seed = f"{FISCAL_STORAGE_NUMBER}|{document}|{amount}|{moment:%Y%m%d%H%M%S}".encode()
    return str(1_000_000_000 + int(hashlib.sha256(seed).hexdigest(), 16) % 3_294_967_296)


def customer_receipt(json_data: str | None) -> dict | None:
    """The CustomerReceipt inside JsonData (keys in any case, as the provider reads them)."""
    try:
        data = json.loads(json_data) if json_data else None
    except ValueError:
        return None
    outer = _key(data, "CloudPayments")
    receipt = _key(outer, "CustomerReceipt")
    return receipt if isinstance(receipt, dict) else None


def _key(mapping, name: str):
    if not isinstance(mapping, dict):
        return None
    return next((value for key, value in mapping.items() if key.lower() == name.lower()), None)


def refusal(receipt: dict, amount: int) -> str | None:
    """Why the register refuses a receipt (the provider's list), or None."""
    items = _key(receipt, "Items")
    if not isinstance(items, list) or not items:
        return "the receipt has no positions"
    total = 0
    for item in items:
        if not isinstance(item, dict) or not str(_key(item, "label") or "").strip():
            return "every position needs a label"
        price, line = _money(_key(item, "price")), _money(_key(item, "amount"))
        if price is None or line is None:
            return "price and amount are numbers with at most two decimals"
        if price < 0 or line < 0:
            return "price and amount are not negative"
        total += line
    if total <= 0:
        return "the receipt's total is not above zero"
    taxation = _key(receipt, "taxationSystem")
    if taxation is not None and taxation not in range(6):
        return f"taxation system {taxation!r} is not registered on the register"
    electronic = _money(_key(_key(receipt, "amounts") or {}, "electronic"))
    if electronic is not None and electronic != total:
        return "amounts.electronic differs from the sum of the positions"
    if total != amount:
        return f"the positions add up to {wire.form_amount(total)}, the operation is {wire.form_amount(amount)}"
    return None


def _money(value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    minor = number * 100
    return int(minor) if minor == minor.to_integral_value() else None


def fiscalize(sandbox, txn, receipt_type: str) -> KktReceipt | None:
    """After Pay (one-stage), Confirm or Refund: register the receipt the operation carried, if any."""
    content = customer_receipt(txn.json_data)
    if content is None:
        return None
    register = sandbox.register
    reason = "the register is switched to fail (fail_receipt_next)" if sandbox.settings.take_fault(
        "fail_receipt_next") else refusal(content, txn.amount)
    now = wire.utcnow().replace(microsecond=0)
    with register.lock:
        if reason is not None:
            register.refused.append({"TransactionId": txn.id, "Type": receipt_type, "Error": reason,
                                     "DateTime": f"{now:%Y-%m-%d %H:%M:%S}"})
            return None
        document, shift, number = register.next_numbers()
        receipt = KktReceipt(
            id=str(uuid.uuid4()), type=receipt_type, transaction_id=txn.id, invoice_id=txn.invoice_id,
            account_id=txn.account_id, amount=txn.amount, document_number=document, session_number=shift,
            number=number, fiscal_sign=fiscal_sign(document, txn.amount, now), registered_at=now, content=content,
            base_url=request.host_url if has_request_context() else "")
        register.receipts[receipt.id] = receipt
    sandbox.notifier.send("receipt", receipt.notification_fields(), txn.id, wait_first=False)
    return receipt


@bp.get("/receipts/<receipt_id>")
def receipt_page(receipt_id: str):
    receipt = _sandbox().register.receipts.get(receipt_id)
    if receipt is None:
        return jsonify({"error": "no such receipt"}), 404
    rows = "".join(f"<tr><td>{html.escape(str(_key(i, 'label')))}</td><td>{_key(i, 'quantity')}</td>"
                   f"<td>{_key(i, 'price')}</td><td>{_key(i, 'amount')}</td><td>{_key(i, 'vat')}</td></tr>"
                   for i in _key(receipt.content, "Items") or [])
    page = (f"<!doctype html><meta charset=utf-8><title>Кассовый чек {receipt.document_number}</title>"
            f"<h1>Кассовый чек · {'Приход' if receipt.type == INCOME else 'Возврат прихода'}</h1>"
            f"<p>ИНН {SELLER_INN} · РН ККТ {REGISTER_NUMBER} · ФН {FISCAL_STORAGE_NUMBER} · "
            f"ФД {receipt.document_number} · ФП {receipt.fiscal_sign} · смена {receipt.session_number}, "
            f"чек {receipt.number} · {receipt.registered_at:%d.%m.%Y %H:%M}</p>"
            f"<table><tr><th>Наименование</th><th>Кол-во</th><th>Цена</th><th>Сумма</th><th>НДС</th></tr>{rows}</table>"
            f"<p>Итого {wire.form_amount(receipt.amount)}</p><p id=qr>{html.escape(receipt.qr)}</p>")
    return Response(page, content_type="text/html; charset=utf-8")


@bp.get("/receipts/<receipt_id>/qr")
def receipt_qr(receipt_id: str):
    """The QR as an SVG: the sandbox draws the QR's text, not a scannable code (no encoder, no dependency)."""
    receipt = _sandbox().register.receipts.get(receipt_id)
    if receipt is None:
        return jsonify({"error": "no such receipt"}), 404
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="480" height="40"><rect width="480" height="40" '
           f'fill="white" stroke="black"/><text x="8" y="25" font-size="11">{html.escape(receipt.qr)}</text></svg>')
    return Response(svg, content_type="image/svg+xml")


@bp.get("/control/receipts")
def receipts_log():
    """Every receipt registered and every one refused (with the register's reason)."""
    register = _sandbox().register
    with register.lock:
        return jsonify({"receipts": [r.to_json() for r in register.receipts.values()],
                        "refused": list(register.refused)})
