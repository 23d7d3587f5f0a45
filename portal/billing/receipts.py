"""Fiscal receipts (54-FZ) built from what billing charged: one builder from an invoice (приход) or a
refund (возврат прихода) to a provider-neutral Receipt, marked as the seller's settings say. Each provider's
adapter puts it on its wire (portal/providers/*_receipts.py)."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from portal import clock
from portal.billing.errors import N_, Message
from portal.extensions import db
from portal.models import SellerSettings
from portal.models.invoice import KINDS
from portal.providers.receipt import (
    PaymentMethodSign,
    PaymentSubject,
    Receipt,
    ReceiptKind,
    ReceiptLine,
    Taxation,
    Vat,
)

# The basic VAT rate is 20 % to 31 December 2025 and 22 % from 1 January 2026 (Moscow time, where the
# register's day turns): a plan set to "general" follows it by the day of the settlement.
GENERAL_VAT = "general"
GENERAL_RATE_22_FROM = date(2026, 1, 1)
VAT_CHOICES = (GENERAL_VAT, *(v.value for v in Vat))
REGISTER_ZONE = ZoneInfo("Europe/Moscow")

_PERIOD_WORDS = {  # one, two to four, five and more
    "day": ("день", "дня", "дней"),
    "week": ("неделя", "недели", "недель"),
    "month": ("месяц", "месяца", "месяцев"),
    "year": ("год", "года", "лет"),
}


_SELLER = "seller_settings"


def seller() -> SellerSettings | None:
    """The seller's settings, read once per transaction: a batch of payments asks the database once, also
    when there are none."""
    transaction = db.session().get_transaction()
    cached = db.session.info.get(_SELLER)
    if cached is not None and cached[0] is transaction and transaction is not None:
        return cached[1]
    with db.session.no_autoflush:
        settings = db.session.get(SellerSettings, 1)
    db.session.info[_SELLER] = (transaction, settings)
    return settings


def why_no_receipts(settings: SellerSettings | None = None) -> Message | None:
    """Why receipts are not asked for right now, for staff (English; the page translates it); None when they are."""
    settings = settings if settings is not None else seller()
    if settings is None:
        return N_("Seller settings are not filled in: payments go without fiscal receipts.")
    return None


def vat_on(choice: str, moment: datetime) -> Vat:
    """A VAT setting as the rate on the day of the settlement."""
    if choice != GENERAL_VAT:
        return Vat(choice)
    return Vat.VAT22 if moment.astimezone(REGISTER_ZONE).date() >= GENERAL_RATE_22_FROM else Vat.VAT20


def plan_vat(settings: SellerSettings, plan_code: str | None) -> str:
    return (settings.vat_by_plan or {}).get(plan_code or "", settings.vat_default)


def period_words(count: int, unit: str) -> str:
    """"1 месяц", "3 месяца", "12 месяцев": the period as a Russian receipt names it."""
    one, few, many = _PERIOD_WORDS[unit]
    if count % 10 == 1 and count % 100 != 11:
        word = one
    elif 2 <= count % 10 <= 4 and not 12 <= count % 100 <= 14:
        word = few
    else:
        word = many
    return f"{count} {word}"


def position_name(invoice) -> str:
    """What the receipt calls the invoice's position (receipts are in Russian, whatever the customer reads)."""
    plan = invoice.plan if invoice.kind == "proration" and invoice.plan is not None else invoice.subscription.plan
    if invoice.kind == "proration":
        return f"Подписка «{plan.name_ru}»: доплата за переход на тариф до конца периода"
    return f"Подписка «{plan.name_ru}», {period_words(plan.interval_count, plan.interval_unit)}"


def needs_receipt(invoice) -> bool:
    """Whether money taken for this invoice is fiscalised: card checks (held and voided) and grants are not."""
    return KINDS[invoice.kind].receipt and invoice.amount > 0


def income_receipt(invoice, settings: SellerSettings | None = None, *, moment: datetime | None = None
                   ) -> Receipt | None:
    """The приход receipt for paying this invoice, or None when none is due (or the seller is not set up)."""
    settings = settings if settings is not None else seller()
    if settings is None or not needs_receipt(invoice):
        return None
    return _receipt(ReceiptKind.INCOME, invoice, invoice.amount, settings, moment or clock.now())


def return_receipt(invoice, amount_minor: int, settings: SellerSettings | None = None, *,
                   moment: datetime | None = None) -> Receipt | None:
    """The возврат прихода receipt for giving back `amount_minor` of a paid invoice: its position for the
    refunded amount only."""
    settings = settings if settings is not None else seller()
    if settings is None or not needs_receipt(invoice) or amount_minor <= 0:
        return None
    return _receipt(ReceiptKind.INCOME_RETURN, invoice, amount_minor, settings, moment or clock.now())


def _receipt(kind: ReceiptKind, invoice, amount_minor: int, settings: SellerSettings, moment: datetime) -> Receipt:
    plan = invoice.plan if invoice.kind == "proration" and invoice.plan is not None else invoice.subscription.plan
    line = ReceiptLine(name=position_name(invoice), price_minor=amount_minor, quantity=1,
                       vat=vat_on(plan_vat(settings, plan.code), moment),
                       method=PaymentMethodSign(settings.payment_method),
                       subject=PaymentSubject(settings.payment_subject))
    receipt = Receipt(kind=kind, lines=(line,), currency=invoice.currency, taxation=Taxation(settings.taxation),
                      email=invoice.customer.email)
    if receipt.total_minor != amount_minor:  # one position today; several must still add up to the money
        raise ValueError(f"receipt positions add up to {receipt.total_minor}, not {amount_minor}")
    return receipt
