"""One free trial per card: the same card cannot start a second trial on another account. The checkout is then
paid from the first day, and nothing is held on the card for the refused check."""
from sqlalchemy import select

from portal.extensions import db
from portal.models import Invoice, Payment, Subscription, TrialCard
from tests.factories import make_customer, make_plan
from tests.flows.conftest import SUCCESS_CARD
from tests.published import published

OTHER_GOOD_CARD = "4242 4242 4242 4242"


def _reload(sub):
    db.session.expire_all()
    return db.session.get(Subscription, sub.id)


def _open_invoices(sub):
    return db.session.scalars(select(Invoice).where(Invoice.subscription_id == sub.id, Invoice.status == "open")
                              .order_by(Invoice.id)).all()


def _take_trial(billing, customer, card=SUCCESS_CARD):
    sub, invoice, params = billing.checkout(customer, "premium")
    assert billing.pay(params, card=card)["Success"] is True
    billing.work()
    assert _reload(sub).status == "trialing"
    return sub


def test_a_card_that_had_a_trial_on_another_account_is_refused_at_check_and_the_checkout_is_paid_instead(billing):
    make_plan(code="premium", amount=59900, trial_days=7)
    first = _take_trial(billing, make_customer(email="first@example.com"))

    second_customer = make_customer(email="second@example.com")
    sub, verification, params = billing.checkout(second_customer, "premium")
    assert verification.kind == "verification"
    refused = billing.pay(params, card=SUCCESS_CARD)
    assert refused["Success"] is False and refused["ReasonCode"] == 13
    billing.work()

    sub = _reload(sub)
    assert (sub.status, sub.trial_refusal, sub.trial_end) == ("pending", "card_used", None)
    assert db.session.get(Invoice, verification.id).status == "void"
    [paid_checkout] = _open_invoices(sub)
    assert (paid_checkout.kind, paid_checkout.amount, paid_checkout.currency) == ("initial", 59900, "RUB")
    # Nothing was authorised on the card for the refused check.
    assert [t["Status"] for t in billing.provider_transactions(verification.id)] == ["Declined"]
    # The bus hears why the checkout has no trial (and that it is still pending, to be paid in full).
    [told] = published("subscription.trial_refused", sub.id)
    assert (told["status"], told["trial_refusal"], told["trial_end"]) == ("pending", "card_used", None)

    # The second customer pays the full price with the same card: active from today, no trial.
    again, invoice, params = billing.checkout(second_customer, "premium")
    assert (again.id, invoice.id, params["scheme"]) == (sub.id, paid_checkout.id, "charge")
    assert billing.pay(params, card=SUCCESS_CARD)["Success"] is True
    billing.work()
    billing.assert_no_failed_jobs()
    sub = _reload(sub)
    assert (sub.status, sub.trial_end) == ("active", None)
    assert db.session.get(Invoice, paid_checkout.id).status == "paid"
    # The card's trial stays the first customer's.
    assert [(c.customer_id, c.subscription_id) for c in db.session.scalars(select(TrialCard))] == [
        (first.customer_id, first.id)]


def test_another_card_still_starts_a_trial_on_another_account(billing):
    make_plan(code="premium", amount=59900, trial_days=7)
    _take_trial(billing, make_customer(email="first@example.com"), card=SUCCESS_CARD)
    second = _take_trial(billing, make_customer(email="second@example.com"), card=OTHER_GOOD_CARD)
    assert second.trial_refusal is None
    assert db.session.scalar(select(TrialCard.id).where(TrialCard.subscription_id == second.id)) is not None


def test_two_trials_with_one_card_at_the_same_moment_give_one_trial_and_one_paid_checkout(billing):
    """Both Checks pass before either Pay is applied (neither trial had started): the trial that is applied
    first keeps the card, the other checkout is refused when its Pay is applied, its hold voided."""
    make_plan(code="premium", amount=59900, trial_days=7)
    first, _, first_params = billing.checkout(make_customer(email="first@example.com"), "premium")
    second, second_check, second_params = billing.checkout(make_customer(email="second@example.com"), "premium")
    assert billing.pay(first_params)["Success"] is True
    assert billing.pay(second_params)["Success"] is True
    billing.work()
    billing.assert_no_failed_jobs()

    first, second = _reload(first), _reload(second)
    assert {first.status, second.status} == {"trialing", "pending"}
    refused = second if second.status == "pending" else first
    assert refused.trial_refusal == "card_used"
    [told] = published("subscription.trial_refused")  # refused when its Pay was applied, told once
    assert (told["subscription_id"], told["trial_refusal"]) == (refused.id, "card_used")
    [paid_checkout] = _open_invoices(refused)
    assert (paid_checkout.kind, paid_checkout.amount) == ("initial", 59900)
    # The refused checkout's card check is given back like any other: voided at the provider.
    check = db.session.scalar(select(Invoice).where(Invoice.subscription_id == refused.id,
                                                    Invoice.kind == "verification"))
    assert check.status == "void"
    [payment] = db.session.scalars(select(Payment).where(Payment.invoice_id == check.id)).all()
    assert payment.status == "voided"
    assert db.session.scalar(select(db.func.count(TrialCard.id))) == 1
