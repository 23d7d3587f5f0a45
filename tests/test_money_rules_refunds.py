"""What cancelling now refunds (portal/billing/refund_policy.py): unused whole days, rounded down, with the
amounts worked out by hand; every invoice that refunds nothing, and the policy setting."""
from datetime import UTC, datetime, timedelta

import pytest

from portal.billing.refund_policy import refund_for_cancel_now, unused_days_refund
from portal.models import Invoice

START = datetime(2027, 4, 1, 0, 0, tzinfo=UTC)
END = datetime(2027, 5, 1, 0, 0, tzinfo=UTC)  # 30 days


@pytest.mark.parametrize("at,refund", [
    (START, 29900),  # nothing used
    (START + timedelta(days=10, hours=5), 18936),  # 19 unused days: 29900 * 19 / 30 = 18936.67, rounded down
    (START + timedelta(days=29), 996),  # exactly one day left: 29900 / 30 = 996.67
    (START + timedelta(days=29, seconds=1), 0),  # a second less than a day left: the day under way is used
    (END - timedelta(seconds=1), 0),
    (END, 0),
    (END + timedelta(days=3), 0),  # a cancel after the period end refunds nothing
    (START - timedelta(days=5), 29900),  # before the period began: never more than the whole period
])
def test_a_cancel_refunds_the_unused_whole_days_rounded_down(at, refund):
    assert unused_days_refund(29900, START, END, at) == refund


def test_the_period_length_is_counted_in_whole_days_rounded_to_the_nearest():
    # 30 days and 13 hours are 31 days: 29900 * 30 / 31 = 28935.48 for 30 unused days.
    assert unused_days_refund(29900, START, END + timedelta(hours=13), START + timedelta(hours=13)) == 28935
    # 30 days and 11 hours are 30 days.
    assert unused_days_refund(29900, START, END + timedelta(hours=11), START + timedelta(hours=11)) == 29900


def test_a_period_shorter_than_half_a_day_counts_as_one_day():
    start = datetime(2027, 4, 1, 0, 0, tzinfo=UTC)
    assert unused_days_refund(1000, start, start + timedelta(hours=12), start - timedelta(hours=12)) == 1000
    assert unused_days_refund(1000, start, start + timedelta(hours=12), start) == 0


def paid(amount=29900, refunded=0, status="paid", period=(START, END)):
    return Invoice(kind="initial", status=status, amount=amount, amount_refunded=refunded, currency="RUB",
                   period_start=period[0], period_end=period[1])


AT = START + timedelta(days=10, hours=5)  # 19 of 30 days unused: 18936


@pytest.fixture
def app(migrated_app):
    """Only the policy setting is read: the app's context without a clean database (nothing is stored)."""
    with migrated_app.app_context():
        yield migrated_app


def test_cancelling_now_refunds_the_unused_days_under_the_default_policy(app, monkeypatch):
    monkeypatch.delitem(app.config, "REFUND_POLICY", raising=False)
    assert refund_for_cancel_now(paid(), AT) == 18936
    monkeypatch.setitem(app.config, "REFUND_POLICY", "prorated")
    assert refund_for_cancel_now(paid(), AT) == 18936


def test_a_refund_never_exceeds_what_is_left_of_the_payment(app):
    assert refund_for_cancel_now(paid(refunded=20000), AT) == 9900
    assert refund_for_cancel_now(paid(refunded=29899), AT) == 1


@pytest.mark.parametrize("invoice", [
    None,
    paid(status="open"),
    paid(status="void"),
    paid(status="refunded", refunded=29900),
    paid(refunded=29900),  # paid and already refunded in full
    paid(period=(None, END)),
    paid(period=(START, None)),
], ids=["no-invoice", "open", "void", "refunded", "fully-refunded", "no-period-start", "no-period-end"])
def test_nothing_is_refunded_for_an_invoice_with_nothing_to_give_back(app, invoice):
    assert refund_for_cancel_now(invoice, AT) == 0


def test_the_none_policy_refunds_nothing_and_an_unknown_policy_is_refused(app, monkeypatch):
    monkeypatch.setitem(app.config, "REFUND_POLICY", "none")
    assert refund_for_cancel_now(paid(), AT) == 0
    monkeypatch.setitem(app.config, "REFUND_POLICY", "generous")
    with pytest.raises(ValueError, match="generous"):
        refund_for_cancel_now(paid(), AT)
