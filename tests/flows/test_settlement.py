"""A notification settles only what we billed, and one invoice is charged once: mismatched payments are held
for staff with the reason, the Check refuses a second payment while a first is under way, and a second
charge the provider still took is refunded through it, with one payment.succeeded for the invoice."""
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Invoice, OutboxMessage, Payment, PaymentMethod, Refund, Subscription, Transition
from tests.factories import make_customer, make_plan
from tests.flows.conftest import SUCCESS_CARD
from tests.flows.test_cancel_and_refund import TYPE_REFUND
from tests.flows.test_notifications import check, form, pay_fields, post, signed

OTHER_SUCCESS_CARD = "5205 0000 0000 3055"  # no 3-DS, succeeds: a second card in the same checkout


@pytest.fixture
def open_invoice(billing):
    """A customer's open checkout invoice for RUB 299.00."""
    make_plan(code="monthly", amount=29900)
    return billing.checkout(make_customer(), "monthly")[1]


def notify(live, kind, fields):
    body = form(fields)
    response = post(live, kind, body, signed(body))
    assert (response.status_code, response.json()) == (200, {"code": 0}), response.text


def payment_events(invoice_id):
    db.session.expire_all()
    return [m.payload for m in db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.routing_key == "payment.succeeded").order_by(OutboxMessage.id))
        if m.payload["invoice_id"] == invoice_id]


def payment_transitions(payment_id):
    return db.session.scalars(select(Transition.event).where(
        Transition.entity_type == "payment", Transition.entity_id == payment_id).order_by(Transition.id)).all()


@pytest.mark.parametrize("overrides,reason", [
    ({"Currency": "USD"}, "paid in USD, but invoice {invoice} is billed in RUB"),
    ({"Currency": "KZT"}, "paid in KZT, but invoice {invoice} is billed in RUB"),
    ({"AccountId": "x"}, "paid by account 'x', but invoice {invoice} is billed to '{account}'"),
    ({"AccountId": "another customer"}, "paid by account '{other}', but invoice {invoice} is billed to '{account}'"),
    ({"Amount": "1.00"}, "paid 100 minor units, but invoice {invoice} is for 29900"),
])
def test_a_pay_that_does_not_match_its_invoice_is_held_with_the_reason_and_settles_nothing(
        billing, live, open_invoice, overrides, reason):
    other = make_customer().external_id
    if overrides.get("AccountId") == "another customer":
        overrides = {"AccountId": other}
    notify(live, "pay", pay_fields(open_invoice, 5560001, **overrides))
    billing.work()
    billing.assert_no_failed_jobs()

    db.session.expire_all()
    [payment] = db.session.scalars(select(Payment)).all()
    invoice = db.session.get(Invoice, open_invoice.id)
    sub = db.session.get(Subscription, invoice.subscription_id)
    assert (payment.status, payment.needs_review) == ("completed", True)
    assert reason.format(invoice=invoice.id, account=invoice.customer.external_id, other=other) in payment.review_reason
    assert (invoice.status, sub.status, sub.payment_method_id) == ("open", "pending", None)
    assert db.session.scalar(select(func.count()).select_from(PaymentMethod)) == 0  # no card token kept
    assert payment_events(invoice.id) == []
    assert payment_transitions(payment.id) == ["hold_for_review", "complete"]
    # Someone else's payment is not shown to the invoice's customer as theirs.
    assert payment.customer_id == (None if "AccountId" in overrides else invoice.customer_id)


def test_a_held_payment_leaves_the_invoice_payable_by_the_right_payment(billing, live, open_invoice):
    notify(live, "pay", pay_fields(open_invoice, 5560002, Currency="USD"))
    billing.work()
    assert check(live, open_invoice, TransactionId="5560003") == 0
    notify(live, "pay", pay_fields(open_invoice, 5560003))
    billing.work()
    db.session.expire_all()
    assert db.session.get(Invoice, open_invoice.id).status == "paid"
    assert [p["provider_transaction_id"] for p in payment_events(open_invoice.id)] == ["5560003"]


@pytest.mark.parametrize("overrides,code", [
    ({"AccountId": "x"}, 11),
    ({"Currency": "KZT"}, 12),
    ({"Amount": "299.01"}, 12),
])
def test_check_answers_the_code_of_what_does_not_match(billing, live, open_invoice, overrides, code):
    assert check(live, open_invoice, **overrides) == code


def paid_invoice_payment(billing, live, invoice, transaction_id=5560010):
    notify(live, "pay", pay_fields(invoice, transaction_id))
    billing.work()
    db.session.expire_all()
    [payment] = db.session.scalars(select(Payment)).all()
    assert db.session.get(Invoice, invoice.id).status == "paid"
    return payment


def refund_fields(payment, refund_id, amount, **extra):
    return {"TransactionId": refund_id, "PaymentTransactionId": payment.provider_transaction_id,
            "Amount": amount, "DateTime": "2026-11-29 11:00:00", "OperationType": "Refund",
            "InvoiceId": str(payment.invoice_id), **extra}


@pytest.mark.parametrize("amount,extra,reason", [
    ("299.00", {"Currency": "USD"}, "refunded in USD, but the payment was in RUB"),
    ("300.00", {}, "refund of 30000 minor units, but 29900 of the payment is refundable"),
])
def test_a_refund_notification_in_another_currency_or_beyond_the_payment_is_held_not_applied(
        billing, live, open_invoice, amount, extra, reason):
    payment = paid_invoice_payment(billing, live, open_invoice)
    notify(live, "refund", refund_fields(payment, 5560020, amount, **extra))
    billing.work()
    billing.assert_no_failed_jobs()

    db.session.expire_all()
    payment = db.session.get(Payment, payment.id)
    invoice = db.session.get(Invoice, open_invoice.id)
    assert db.session.scalars(select(Refund)).all() == []
    assert (payment.amount_refunded, invoice.amount_refunded, invoice.status) == (0, 0, "paid")
    assert payment.needs_review is True and reason in payment.review_reason
    assert db.session.get(Subscription, invoice.subscription_id).status == "active"


def test_check_reserves_the_invoice_for_one_transaction_until_it_fails(billing, live, open_invoice):
    assert check(live, open_invoice, TransactionId="5560030") == 0
    assert check(live, open_invoice, TransactionId="5560031") == 13  # the first is still under way
    assert check(live, open_invoice, TransactionId="5560030") == 0  # its own Check again: still its own
    fail = pay_fields(open_invoice, 5560030, Reason="Insufficient funds", ReasonCode="5051")
    for key in ("Status", "Token", "GatewayName"):
        fail.pop(key)
    notify(live, "fail", fail)
    assert check(live, open_invoice, TransactionId="5560031") == 0  # the first was declined: another may try
    db.session.expire_all()
    assert db.session.get(Invoice, open_invoice.id).reserved_transaction_id == "5560031"


def test_check_refuses_a_second_payment_while_the_first_pay_waits_in_the_inbox(billing, live, open_invoice):
    notify(live, "pay", pay_fields(open_invoice, 5560040))  # stored; no worker has applied it yet
    assert check(live, open_invoice, TransactionId="5560041") == 13
    billing.work()
    assert check(live, open_invoice, TransactionId="5560041") == 13  # and once applied, the invoice is paid


def widget_payments_at_once(billing, params, cards):
    with ThreadPoolExecutor(max_workers=len(cards)) as pool:
        return list(pool.map(lambda card: billing.pay(params, card=card), cards))


def test_two_widget_payments_of_one_checkout_at_the_same_moment_charge_once(billing, live):
    make_plan(code="monthly", amount=29900)
    sub, invoice, params = billing.checkout(make_customer(), "monthly")
    answers = widget_payments_at_once(billing, params, [SUCCESS_CARD, OTHER_SUCCESS_CARD])
    billing.work()
    billing.assert_no_failed_jobs()

    assert sorted(a["Success"] for a in answers) == [False, True]
    [refused] = [a for a in answers if not a["Success"]]
    assert refused["ReasonCode"] == 13
    approved = [t for t in billing.provider_transactions(invoice.id) if t["Status"] == "Completed"]
    assert len(approved) == 1
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).status == "paid"
    assert db.session.get(Subscription, sub.id).status == "active"
    assert len(payment_events(invoice.id)) == 1


def test_a_second_widget_payment_while_the_first_waits_for_a_worker_is_refused(billing, live):
    make_plan(code="monthly", amount=29900)
    sub, invoice, params = billing.checkout(make_customer(), "monthly")
    assert billing.pay(params)["Success"] is True  # its Pay is stored; the workers lag behind
    second = billing.pay(params, card=OTHER_SUCCESS_CARD)
    assert (second["Success"], second["ReasonCode"]) == (False, 13)
    billing.work()
    assert [t["Status"] for t in billing.provider_transactions(invoice.id)] == ["Completed", "Declined"]
    assert len(payment_events(invoice.id)) == 1


def test_a_second_charge_the_check_never_saw_is_refunded_through_the_provider(billing, live):
    make_plan(code="monthly", amount=29900)
    sub, invoice, params = billing.checkout(make_customer(), "monthly")
    billing.sandbox("POST", "/control", json={"urls": {"check": ""}})  # Pay without Check: both go through
    answers = widget_payments_at_once(billing, params, [SUCCESS_CARD, OTHER_SUCCESS_CARD])
    assert [a["Success"] for a in answers] == [True, True]
    billing.work()
    billing.work()  # the provider's Refund notification of our refund comes back and changes nothing more
    billing.assert_no_failed_jobs()

    db.session.expire_all()
    payments = db.session.scalars(select(Payment).order_by(Payment.id)).all()
    [settled] = [p for p in payments if p.settles_invoice]
    [extra] = [p for p in payments if not p.settles_invoice]
    assert db.session.get(Invoice, invoice.id).status == "paid"
    assert (extra.status, extra.amount_refunded, extra.needs_review, extra.review_resolution) == (
        "completed", 29900, False, "refunded")
    assert f"invoice {invoice.id} was already paid by another transaction" in extra.review_reason
    [refund] = db.session.scalars(select(Refund)).all()
    assert (refund.payment_id, refund.status, refund.amount, refund.requested_by) == (
        extra.id, "succeeded", 29900, "job:duplicate-charge")
    at_provider = billing.sandbox("GET", "/transactions").json()
    [refunded] = [t for t in at_provider if t["Type"] == TYPE_REFUND]
    assert str(refunded["OriginalTransactionId"]) == extra.provider_transaction_id
    assert [p["payment_id"] for p in payment_events(invoice.id)] == [settled.id]
    assert payment_transitions(extra.id) == ["hold_for_review", "complete", "record_refund", "refund_held"]
    # The invoice the first payment paid keeps its money and its period: the refund was the extra charge's.
    assert db.session.get(Invoice, invoice.id).amount_refunded == 0
    assert db.session.get(Subscription, sub.id).status == "active"


def test_someone_elses_payment_naming_my_invoice_is_not_shown_to_me(billing, live, open_invoice, client):
    from tests.auth.helpers import sign_in

    stranger = make_customer()
    notify(live, "pay", pay_fields(open_invoice, 5560050, AccountId=stranger.external_id, CardLastFour="4321"))
    billing.work()
    assert sign_in(client, open_invoice.customer.email).status_code == 303
    page = client.get(f"/account/invoices/{open_invoice.id}").get_data(as_text=True)
    [payment] = db.session.scalars(select(Payment)).all()
    assert 'id="invoice"' in page and f'id="payment-{payment.id}"' not in page
