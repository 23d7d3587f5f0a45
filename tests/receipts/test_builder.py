"""The receipt builder against worked examples checked by hand (shared/receipts-54fz.md), in both wires."""
from datetime import UTC, datetime

import pytest

from portal.billing.receipts import income_receipt, period_words, return_receipt, why_no_receipts
from portal.extensions import db
from portal.models import Plan
from portal.providers.cloudpayments_receipts import customer_receipt, json_data
from portal.providers.yookassa_receipts import receipt_object
from tests.factories import make_customer, make_invoice, make_subscription
from tests.receipts.support import make_seller

SUMMER_2025 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
# 1 January 2026 00:30 in Moscow is still 31 December in UTC: the rate turns by the register's day.
NEW_YEAR_2026_MOSCOW = datetime(2025, 12, 31, 21, 30, tzinfo=UTC)
LAST_EVENING_2025_MOSCOW = datetime(2025, 12, 31, 20, 59, tzinfo=UTC)


def _invoice(app, name, amount, unit, email="user@example.com"):
    plan = Plan(code=f"{name.lower()}-{unit}", name_ru=name, name_en=name, amount=amount, currency="RUB",
                interval_unit=unit,
                interval_count=1)
    db.session.add(plan)
    db.session.commit()
    sub = make_subscription(plan=plan, customer=make_customer(email=email))
    return make_invoice(subscription=sub)


def test_monthly_plan_without_vat_reads_as_the_contract_example(app):
    make_seller(taxation="usn_income", vat_default="none")
    receipt = income_receipt(_invoice(app, "Стандарт", 29900, "month"), moment=SUMMER_2025)

    assert json_data(receipt) == {"CloudPayments": {"CustomerReceipt": {
        "Items": [{"label": "Подписка «Стандарт», 1 месяц", "price": 299.00, "quantity": 1, "amount": 299.00,
                   "vat": None, "method": 1, "object": 4, "measurementUnit": "шт"}],
        "taxationSystem": 1, "email": "user@example.com", "isBso": False, "amounts": {"electronic": 299.00}}}}
    assert receipt_object(receipt) == {
        "customer": {"email": "user@example.com"}, "tax_system_code": 2,
        "items": [{"description": "Подписка «Стандарт», 1 месяц", "quantity": "1.00",
                   "amount": {"value": "299.00", "currency": "RUB"}, "vat_code": 1,
                   "payment_mode": "full_prepayment", "payment_subject": "service", "measure": "piece"}]}


def test_yearly_plan_at_the_general_rate_in_2025_is_vat_20(app):
    make_seller(taxation="osn", vat_default="general")
    receipt = income_receipt(_invoice(app, "Премиум", 299000, "year"), moment=SUMMER_2025)

    cloudkassir = customer_receipt(receipt)
    assert cloudkassir["Items"] == [{"label": "Подписка «Премиум», 1 год", "price": 2990.00, "quantity": 1,
                                     "amount": 2990.00, "vat": 20, "method": 1, "object": 4,
                                     "measurementUnit": "шт"}]
    assert cloudkassir["taxationSystem"] == 0 and cloudkassir["amounts"] == {"electronic": 2990.00}
    yookassa = receipt_object(receipt)
    assert yookassa["tax_system_code"] == 1
    assert [(i["amount"]["value"], i["quantity"], i["vat_code"]) for i in yookassa["items"]] == [("2990.00", "1.00", 4)]


@pytest.mark.parametrize("moment, cloudkassir_vat, yookassa_vat_code", [
    (LAST_EVENING_2025_MOSCOW, 20, 4),
    (NEW_YEAR_2026_MOSCOW, 22, 11),
    (datetime(2026, 12, 7, 10, 0, tzinfo=UTC), 22, 11),
])
def test_the_general_rate_is_22_percent_from_1_january_2026_moscow_time(app, moment, cloudkassir_vat,
                                                                       yookassa_vat_code):
    make_seller(taxation="osn", vat_default="general")
    receipt = income_receipt(_invoice(app, "Премиум", 299000, "year"), moment=moment)

    assert customer_receipt(receipt)["Items"][0]["vat"] == cloudkassir_vat
    assert receipt_object(receipt)["items"][0]["vat_code"] == yookassa_vat_code


def test_a_plan_can_have_its_own_vat_beside_the_default(app):
    make_seller(taxation="osn", vat_default="general", vat_by_plan={"kids-month": "10"})
    receipt = income_receipt(_invoice(app, "Kids", 19900, "month"), moment=SUMMER_2025)

    assert customer_receipt(receipt)["Items"][0]["vat"] == 10
    assert receipt_object(receipt)["items"][0]["vat_code"] == 3


def test_partial_refund_returns_only_the_refunded_amount(app):
    make_seller(taxation="usn_income", vat_default="none")
    invoice = _invoice(app, "Стандарт", 29900, "month")
    receipt = return_receipt(invoice, 14950, moment=SUMMER_2025)

    assert receipt.kind == "income_return"
    cloudkassir = customer_receipt(receipt)
    assert [(i["price"], i["quantity"], i["amount"]) for i in cloudkassir["Items"]] == [(149.50, 1, 149.50)]
    assert cloudkassir["amounts"] == {"electronic": 149.50}
    yookassa = receipt_object(receipt)
    assert yookassa["items"][0]["amount"] == {"value": "149.50", "currency": "RUB"}
    assert yookassa["items"][0]["description"] == "Подписка «Стандарт», 1 месяц"


def test_positions_always_add_up_to_the_payment(app):
    make_seller(taxation="usn_income", vat_default="none")
    for amount in (1, 99, 29900, 123457):
        receipt = income_receipt(_invoice(app, f"P{amount}", amount, "month"), moment=SUMMER_2025)
        wire = customer_receipt(receipt)
        assert round(sum(i["amount"] for i in wire["Items"]) * 100) == amount == round(
            wire["amounts"]["electronic"] * 100)
        assert sum(round(float(i["amount"]["value"]) * 100) * int(float(i["quantity"]))
                   for i in receipt_object(receipt)["items"]) == amount


def test_card_checks_and_grants_get_no_receipt(app):
    make_seller()
    sub = make_subscription()
    assert income_receipt(make_invoice(subscription=sub, kind="verification", amount=1100)) is None
    assert income_receipt(make_invoice(subscription=sub, kind="grant", amount=0)) is None


def test_without_seller_settings_no_receipt_is_built_and_staff_are_told_why(app):
    assert income_receipt(make_invoice()) is None
    assert "Seller settings are not filled in" in why_no_receipts()


@pytest.mark.parametrize("count, unit, words", [
    (1, "month", "1 месяц"), (3, "month", "3 месяца"), (12, "month", "12 месяцев"), (21, "month", "21 месяц"),
    (1, "year", "1 год"), (2, "year", "2 года"), (5, "year", "5 лет"), (7, "day", "7 дней"), (11, "day", "11 дней"),
])
def test_periods_are_named_in_russian_with_the_right_plural(count, unit, words):
    assert period_words(count, unit) == words
