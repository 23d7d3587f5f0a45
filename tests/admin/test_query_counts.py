"""The admin pages issue a fixed number of SQL queries, whatever the number of rows they show (no N+1)."""
from datetime import timedelta
from itertools import count

import pytest

from portal import clock
from portal.extensions import db
from portal.models import Invoice, Payment, PaymentMethod, Refund, StaffAction, Transition
from tests.factories import make_customer, make_plan, make_subscription

_seq = count(1)


def _invoice_with_money(sub, i):
    start = clock.now() - timedelta(days=30 * (i + 1))
    invoice = Invoice(subscription_id=sub.id, customer_id=sub.customer_id, kind="renewal", status="paid",
                      amount=sub.amount, currency=sub.currency, period_start=start,
                      period_end=start + timedelta(days=30))
    db.session.add(invoice)
    db.session.flush()
    payment = Payment(provider="sandbox", provider_transaction_id=f"tx-{next(_seq)}", invoice_id=invoice.id,
                      customer_id=sub.customer_id, amount=invoice.amount, currency=invoice.currency,
                      status="completed", card_last_four="4242", card_type="Visa")
    db.session.add(payment)
    db.session.flush()
    db.session.add(Refund(payment_id=payment.id, provider="sandbox", amount=100, currency="RUB", status="pending",
                          reason="test", requested_by=f"customer:{sub.customer_id}"))
    for entity_type, entity_id, actor in (("invoice", invoice.id, "job:renewal"), ("payment", payment.id, "provider"),
                                          ("subscription", sub.id, f"customer:{sub.customer_id}")):
        db.session.add(Transition(entity_type=entity_type, entity_id=entity_id, from_state="open", to_state="paid",
                                  event="pay", actor=actor, cause=f"notification pay #{i} (transaction x)"))


def customer_with(n, staff_user):
    """A customer with n subscriptions, each with an invoice, payment, refund and timeline entries; n cards."""
    customer = make_customer(email=f"bulk{next(_seq)}@example.com")
    plan = make_plan()
    subs = [make_subscription("canceled" if i else "active", plan=plan, customer=customer) for i in range(n)]
    for i in range(n):
        _invoice_with_money(subs[0], i)
        _invoice_with_money(subs[i], i)
        db.session.add(PaymentMethod.for_token(f"tok-{next(_seq)}", user_id=customer.id, provider="sandbox",
                                               card_last_four="4242"))
        db.session.add(StaffAction(staff_user_id=staff_user.id, action="subscription.cancel",
                                   target_type="subscription", target_id=str(subs[0].id), details={"state": "queued"}))
        db.session.add(Transition(entity_type="subscription", entity_id=subs[0].id, from_state="active",
                                  to_state="active", event="extend", actor=f"staff:{staff_user.id}",
                                  cause=f"staff action #{i + 1} (grant)"))
    db.session.commit()
    return customer, subs[0]


@pytest.fixture
def queries_for(staff, count_queries):
    def run(path, **kwargs):
        db.session.expire_all()
        assert staff.get(path, **kwargs).status_code == 200  # warm: the session's user and caches
        counted = count_queries(lambda: staff.get(path, **kwargs))
        assert counted >= 1  # the listener sees the page's queries
        return counted

    return run


def test_subscription_page(staff, queries_for):
    _, few = customer_with(3, staff.user)
    _, many = customer_with(30, staff.user)
    assert queries_for(f"/admin/subscriptions/{few.id}") == queries_for(f"/admin/subscriptions/{many.id}")


def test_customer_page(staff, queries_for):
    few, _ = customer_with(3, staff.user)
    many, _ = customer_with(30, staff.user)
    assert queries_for(f"/admin/customers/{few.id}") == queries_for(f"/admin/customers/{many.id}")


def test_subscription_list(staff, queries_for):
    for _ in range(3):
        make_subscription("active")
    few = queries_for("/admin/subscriptions")
    for _ in range(27):
        make_subscription("active")
    many = queries_for("/admin/subscriptions")
    assert few == many


def test_search(staff, queries_for):
    for i in range(3):
        make_subscription("active", customer=make_customer(email=f"few{i}@example.com"))
    for i in range(30):
        make_subscription("active", customer=make_customer(email=f"many{i}@example.com"))
    few = queries_for("/admin/customers", query_string={"q": "few"})
    many = queries_for("/admin/customers", query_string={"q": "many"})
    assert few == many


def test_lists_of_the_inbox_and_audit_log(staff, queries_for):
    from portal.models import WebhookEvent

    for _ in range(3):
        db.session.add(StaffAction(staff_user_id=staff.user.id, action="plan.create", target_type="plan",
                                   target_id="1", details={}))
        db.session.add(WebhookEvent(provider="sandbox", kind="pay", status="received", body=b"{}"))
    db.session.commit()
    few = (queries_for("/admin/audit"), queries_for("/admin/webhooks"))
    for _ in range(27):
        db.session.add(StaffAction(staff_user_id=make_customer().id, action="plan.create", target_type="plan",
                                   target_id="1", details={}))
        db.session.add(WebhookEvent(provider="sandbox", kind="pay", status="received", body=b"{}"))
    db.session.commit()
    assert (queries_for("/admin/audit"), queries_for("/admin/webhooks")) == few
