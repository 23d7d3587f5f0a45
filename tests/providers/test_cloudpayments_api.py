"""The CloudPayments adapter against the running sandbox over real HTTP: payments, declines, lookups."""
from datetime import timezone

import pytest

from portal.providers import CloudPaymentsProvider, PaymentDeclined, request_id
from tests.providers.support import API_SECRET, CARD_SUCCESS, CARD_TOKEN_NSF, charge_args, next_invoice_id


def test_saved_card_charge_completes_the_payment(provider, saved_card):
    token = saved_card()
    invoice_id = next_invoice_id()

    payment = provider.charge_token(charge_args(token, invoice_id, amount_minor=29910))

    assert payment.status == "completed"
    assert payment.amount_minor == 29910
    assert (payment.currency, payment.invoice_id) == ("RUB", str(invoice_id))
    assert payment.account_id == f"user-{invoice_id}"
    assert payment.card_last_four == "3055"
    assert payment.test_mode is True
    assert payment.created_at is not None and payment.created_at.tzinfo is not None
    assert payment.created_at.utcoffset() == timezone.utc.utcoffset(None)
    assert provider.get_transaction(payment.transaction_id).status == "completed"


def test_customer_present_charge_completes_too(provider, saved_card):
    invoice_id = next_invoice_id()
    payment = provider.charge_token(charge_args(saved_card(), invoice_id, customer_present=True, email=None))
    assert payment.status == "completed"


def test_token_charge_with_insufficient_funds_is_a_retryable_decline(provider, saved_card):
    token = saved_card(CARD_TOKEN_NSF)
    invoice_id = next_invoice_id()

    with pytest.raises(PaymentDeclined) as declined:
        provider.charge_token(charge_args(token, invoice_id))

    assert declined.value.reason_code == 5051
    assert declined.value.retry_allowed is True
    assert declined.value.customer_message == "Insufficient funds"
    assert declined.value.transaction.status == "declined"
    assert declined.value.transaction.invoice_id == str(invoice_id)
    assert declined.value.transaction.card_holder_message


def test_declined_payment_is_still_found_by_invoice(provider, saved_card):
    token = saved_card(CARD_TOKEN_NSF)
    invoice_id = next_invoice_id()
    with pytest.raises(PaymentDeclined) as declined:
        provider.charge_token(charge_args(token, invoice_id))

    found = provider.find_by_invoice(invoice_id)

    assert found is not None
    assert (found.transaction_id, found.status) == (declined.value.transaction.transaction_id, "declined")


def test_authorization_then_confirm_completes_the_payment(provider, saved_card):
    invoice_id = next_invoice_id()
    held = provider.authorize_token(charge_args(saved_card(), invoice_id))
    assert held.status == "authorized"

    provider.confirm(held.transaction_id, held.amount_minor, request_id=request_id("confirm", invoice_id))

    assert provider.get_transaction(held.transaction_id).status == "completed"


def test_void_cancels_an_authorization(provider, saved_card):
    invoice_id = next_invoice_id()
    held = provider.authorize_token(charge_args(saved_card(), invoice_id))

    provider.void(held.transaction_id, request_id=request_id("void", invoice_id))

    assert provider.get_transaction(held.transaction_id).status == "cancelled"


def test_refund_returns_the_refund_transaction(provider, saved_card, merchant):
    invoice_id = next_invoice_id()
    payment = provider.charge_token(charge_args(saved_card(), invoice_id))

    refund = provider.refund(payment.transaction_id, 10000, request_id=request_id("refund", invoice_id, 1))

    assert refund.amount_minor == 10000
    assert refund.refund_transaction_id and refund.refund_transaction_id != payment.transaction_id
    # The Refund notification the provider sends afterwards names both transactions.
    request = merchant.notifications(invoice_id, "refund")[-1]
    assert provider.verify_notification(request["body"], request["headers"])
    notification = provider.parse_notification("refund", request["body"], request["headers"].get("Content-Type"))
    assert notification.transaction_id == refund.refund_transaction_id
    assert notification.payment_transaction_id == payment.transaction_id
    assert notification.amount_minor == 10000


def test_find_by_invoice_returns_the_latest_transaction(provider, saved_card):
    invoice_id = next_invoice_id()
    payment = provider.charge_token(charge_args(saved_card(), invoice_id))

    found = provider.find_by_invoice(invoice_id)

    assert found is not None
    assert (found.transaction_id, found.amount_minor, found.status) == (payment.transaction_id, 29900, "completed")


def test_unknown_invoice_and_transaction_are_none(provider):
    assert provider.find_by_invoice("no-such-invoice") is None
    assert provider.get_transaction("999999999") is None


def test_same_request_id_twice_charges_once_with_the_same_answer(provider, saved_card, sandbox, today):
    token = saved_card()
    invoice_id = next_invoice_id()
    args = charge_args(token, invoice_id, request_id=request_id("invoice", invoice_id, "attempt", 1))

    first = provider.charge_token(args)
    second = provider.charge_token(args)

    assert second.transaction_id == first.transaction_id
    assert second.amount_minor == first.amount_minor
    listed = [tx for tx in sandbox.payments_on(today) if str(tx.get("InvoiceId")) == str(invoice_id)]
    assert len(listed) == 1


def test_new_request_id_is_a_new_charge(provider, saved_card, sandbox, today):
    token = saved_card()
    invoice_id = next_invoice_id()

    first = provider.charge_token(charge_args(token, invoice_id, request_id=request_id("invoice", invoice_id, 1)))
    second = provider.charge_token(charge_args(token, invoice_id, request_id=request_id("invoice", invoice_id, 2)))

    assert first.transaction_id != second.transaction_id
    listed = [tx for tx in sandbox.payments_on(today) if str(tx.get("InvoiceId")) == str(invoice_id)]
    assert len(listed) == 2


def test_same_request_id_after_a_decline_repeats_the_decline(provider, saved_card):
    token = saved_card(CARD_TOKEN_NSF)
    invoice_id = next_invoice_id()
    args = charge_args(token, invoice_id)

    with pytest.raises(PaymentDeclined) as first:
        provider.charge_token(args)
    with pytest.raises(PaymentDeclined) as second:
        provider.charge_token(args)

    assert second.value.transaction.transaction_id == first.value.transaction.transaction_id


def test_widget_payment_notifications_verify_and_parse(provider, sandbox, merchant):
    invoice_id = next_invoice_id()
    sandbox.pay_with_widget(provider, CARD_SUCCESS, invoice_id=invoice_id, amount_minor=10)

    for kind in ("check", "pay"):
        recorded = merchant.notifications(invoice_id, kind)
        assert recorded, f"no {kind} notification reached the merchant"
        request = recorded[-1]
        content_type = request["headers"].get("Content-Type")
        assert provider.verify_notification(request["body"], request["headers"])

        notification = provider.parse_notification(kind, request["body"], content_type)

        assert (notification.kind, notification.invoice_id) == (kind, str(invoice_id))
        assert notification.amount_minor == 10
        assert notification.account_id == f"user-{invoice_id}"
        assert notification.data == {"plan": "monthly"}
        assert notification.test_mode is True
        assert notification.occurred_at is not None and notification.occurred_at.tzinfo is not None
    assert notification.token


def test_sandbox_notifications_do_not_verify_with_another_secret(provider, sandbox, merchant):
    invoice_id = next_invoice_id()
    sandbox.pay_with_widget(provider, CARD_SUCCESS, invoice_id=invoice_id)
    request = merchant.notifications(invoice_id, "pay")[-1]
    stranger = CloudPaymentsProvider("pk_other", API_SECRET + "-other", api_url=sandbox.url)

    assert not stranger.verify_notification(request["body"], request["headers"])
