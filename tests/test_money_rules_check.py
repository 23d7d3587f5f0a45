"""The provider's Check, as the webhook answers it (POST /webhooks/cloudpayments/check, {"code": N}): every
refusal with its code, the 24-hour checkout lifetime on both sides, and the reservation that keeps a second
transaction off an invoice being paid (5 minutes, on both sides)."""
import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest

from portal import clock
from portal.billing.checkout import start_checkout
from portal.billing.trials import card_fingerprint
from portal.extensions import db
from portal.models import Invoice, Payment, Subscription, TrialCard
from portal.providers import get_provider
from tests.conftest import SANDBOX_SECRET
from tests.factories import make_plan
from tests.lifecycle_rules import platform_customer

NOW = datetime(2027, 2, 28, 21, 0, tzinfo=UTC)


def post(client, kind, **fields):
    body = urlencode(fields).encode()
    digest = base64.b64encode(hmac.new(SANDBOX_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return client.post(f"/webhooks/cloudpayments/{kind}", data=body, headers={
        "Content-HMAC": digest, "Content-Type": "application/x-www-form-urlencoded"})


def fields(invoice, transaction_id=5001, **overrides):
    values = {"TransactionId": transaction_id, "Amount": f"{invoice.amount // 100}.{invoice.amount % 100:02d}",
              "Currency": invoice.currency, "InvoiceId": invoice.id, "AccountId": invoice.customer.external_id,
              "DateTime": "2027-02-28 21:00:00", "Status": "Completed", "OperationType": "Payment"}
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def check(client, invoice, transaction_id=5001, **overrides):
    response = post(client, "check", **fields(invoice, transaction_id, **overrides))
    assert response.status_code == 200
    return response.get_json()["code"]


@pytest.fixture
def invoice(app):
    clock.freeze(NOW)
    make_plan(code="monthly", amount=29900)
    _, invoice = start_checkout(platform_customer(), "monthly")
    db.session.commit()
    return invoice


def reload(invoice):
    db.session.expire_all()
    return db.session.get(Invoice, invoice.id)


def test_a_payable_invoice_is_accepted_and_reserved_for_its_transaction(client, invoice):
    assert check(client, invoice, 5001) == 0
    invoice = reload(invoice)
    assert (invoice.reserved_transaction_id, invoice.reserved_provider, invoice.reserved_at) == (
        "5001", "cloudpayments", NOW)


@pytest.mark.parametrize("overrides,code", [
    ({"InvoiceId": 999999}, 10),
    ({"InvoiceId": None}, 10),
    ({"AccountId": "somebody-else"}, 11),
    ({"AccountId": None}, 11),
    ({"Amount": "298.99"}, 12),
    ({"Amount": "299.01"}, 12),
    ({"Currency": "USD"}, 12),
])
def test_a_payment_that_is_not_what_was_billed_is_refused_with_its_code(client, invoice, overrides, code):
    assert check(client, invoice, **overrides) == code
    assert reload(invoice).reserved_transaction_id is None


def test_a_check_without_a_currency_is_taken_as_roubles(client, invoice):
    assert check(client, invoice, Currency=None) == 0


def test_a_customer_the_platform_does_not_know_pays_under_the_portals_own_account_id(client, app):
    clock.freeze(NOW)
    make_plan(code="monthly", amount=29900)
    customer = platform_customer()
    customer.external_id = None
    db.session.commit()
    _, invoice = start_checkout(customer, "monthly")
    db.session.commit()
    assert check(client, invoice, AccountId=f"customer-{customer.id}") == 0
    assert check(client, invoice, 5002, AccountId="") == 11


@pytest.mark.parametrize("age,code", [
    (timedelta(hours=23, minutes=59, seconds=59), 0),
    (timedelta(hours=24), 0),
    (timedelta(hours=24, seconds=1), 20),
    (timedelta(days=3), 20),
])
def test_a_checkout_may_be_paid_for_24_hours(client, invoice, age, code):
    clock.freeze(NOW + age)
    assert check(client, invoice) == code


def test_an_old_card_check_expires_too_but_a_renewal_invoice_does_not(client, app):
    clock.freeze(NOW)
    make_plan(code="trial", amount=29900, trial_days=14)
    _, verification = start_checkout(platform_customer(), "trial")
    db.session.commit()
    assert (verification.kind, verification.amount) == ("verification", 100)
    clock.freeze(NOW + timedelta(hours=25))
    assert check(client, verification) == 20
    verification.kind = "renewal"
    db.session.commit()
    assert check(client, verification) == 0


@pytest.mark.parametrize("change", ["paid", "void", "canceled", "expired"])
def test_an_invoice_that_is_paid_void_or_of_an_ended_subscription_is_not_payable(client, invoice, change):
    if change in ("paid", "void"):
        invoice.status = change
    else:
        invoice.subscription.status = change
    db.session.commit()
    assert check(client, invoice) == 13


def test_a_second_transaction_is_refused_while_the_first_is_under_way_for_5_minutes(client, invoice):
    assert check(client, invoice, 5001) == 0
    clock.freeze(NOW + timedelta(minutes=4, seconds=59))
    assert check(client, invoice, 5002) == 13
    clock.freeze(NOW + timedelta(minutes=5))
    assert check(client, invoice, 5002) == 13
    clock.freeze(NOW + timedelta(minutes=5, seconds=1))
    assert check(client, invoice, 5002) == 0
    assert reload(invoice).reserved_transaction_id == "5002"
    assert check(client, invoice, 5002) == 0  # the same transaction asking again
    assert check(client, invoice, 5001) == 13


def test_a_stored_pay_or_confirm_not_applied_yet_keeps_other_transactions_off(client, invoice):
    for kind, transaction_id in (("pay", 6001), ("confirm", 6002)):
        assert post(client, kind, **fields(invoice, transaction_id)).get_json() == {"code": 0}
        clock.freeze(clock.now() + timedelta(minutes=6))  # past any reservation
        assert check(client, invoice, 7001) == 13
        assert check(client, invoice, transaction_id) == 0  # its own Check may be asked again
        db.session.execute(db.text("UPDATE webhook_events SET status = 'processed'"))
        db.session.commit()
    clock.freeze(clock.now() + timedelta(minutes=6))
    assert check(client, invoice, 7001) == 0


def test_the_first_transactions_fail_frees_the_invoice_for_another(client, invoice):
    assert check(client, invoice, 5001) == 0
    assert post(client, "fail", **fields(invoice, 5001, Status="Declined", Reason="InsufficientFunds",
                                         ReasonCode=5051)).get_json() == {"code": 0}
    assert check(client, invoice, 5002) == 0


@pytest.mark.parametrize("status,needs_review,code", [
    ("declined", False, 0),  # declined: the invoice is free again
    ("completed", True, 0),  # held for review: it settled nothing
    ("completed", False, 13),  # it paid (its Pay is being applied)
    ("authorized", False, 13),
])
def test_a_recorded_payment_of_the_reserved_transaction_frees_the_invoice_only_when_it_settled_nothing(
        client, invoice, status, needs_review, code):
    assert check(client, invoice, 5001) == 0
    db.session.add(Payment(provider=get_provider().name, provider_transaction_id="5001", invoice_id=invoice.id,
                           customer_id=invoice.customer_id, amount=invoice.amount, currency="RUB", status=status,
                           needs_review=needs_review))
    db.session.commit()
    assert check(client, invoice, 5002) == code


CARD = {"CardFirstSix": "424242", "CardLastFour": "4242", "CardExpDate": "12/30", "Issuer": "Sandbox Bank"}


def test_a_card_that_had_a_trial_on_another_account_is_refused_its_card_check_but_may_pay(client, app):
    clock.freeze(NOW)
    make_plan(code="trial", amount=29900, trial_days=14)
    first, first_check = start_checkout(platform_customer(), "trial")
    db.session.add(TrialCard(card_fingerprint=card_fingerprint(SimpleNamespace(
        card_first_six="424242", card_last_four="4242", card_exp="12/30", card_issuer="Sandbox Bank")),
        customer_id=first.customer_id, subscription_id=first.id))
    db.session.commit()
    assert check(client, first_check, 7001, **CARD) == 0  # the card's own account: its trial check goes ahead

    second, second_check = start_checkout(platform_customer(), "trial")
    db.session.commit()
    assert check(client, second_check, 7002, **CARD) == 13
    db.session.expire_all()
    refused = db.session.get(Subscription, second.id)
    assert (refused.status, refused.trial_refusal is not None) == ("pending", True)
    assert db.session.get(Invoice, second_check.id).reserved_transaction_id is None

    make_plan(code="monthly", amount=29900)
    _, paid = start_checkout(platform_customer(), "monthly")
    db.session.commit()
    assert check(client, paid, 7003, **CARD) == 0  # a paid checkout with that card is no trial
