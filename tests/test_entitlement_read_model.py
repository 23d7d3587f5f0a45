"""The entitlement read model never disagrees with the subscriptions: after every transition of the
subscription machine, and after the customer changes that touch no subscription (a new customer, an
anonymised one, two accounts joined), each customer's row says what the query over the subscriptions says."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from portal import clock
from portal.billing.entitlement import Entitlement, computed_entitlement, entitlement, reconcile_entitlements
from portal.extensions import db
from portal.machines import atomic, fire, lock
from portal.machines.subscription import SubscriptionMachine
from portal.models import CustomerEntitlement, PaymentMethod, Subscription, User
from tests.factories import make_customer, make_plan, make_subscription
from tests.flows.conftest import billing  # noqa: F401  (the whole-flow fixture)
from tests.test_machines import SUBSCRIPTION_LEGAL, another_plan, new_price, pause_for_two_months, period

# Events whose legality needs an earlier event first: (from, set-up events, event, arguments).
GUARDED = [
    ("active", [("schedule_cancel", dict)], "undo_cancel", dict),
    ("active", [("schedule_pause", pause_for_two_months)], "unschedule_pause", dict),
    ("active", [("schedule_pause", pause_for_two_months)], "pause", dict),
    ("active", [("schedule_plan_change", another_plan)], "unschedule_plan_change", dict),
    ("active", [("schedule_price_change", new_price)], "apply_price_change", dict),
    ("trialing", [("replace_card", None)], "remove_card", dict),
]


def assert_agrees(*subs_or_customers):
    """Each customer's read-model answer is the computed one, now and once their periods have ended;
    and reconciliation finds nothing to repair anywhere."""
    db.session.expire_all()
    external_ids = [getattr(x, "customer", x).external_id for x in subs_or_customers]
    for external_id in external_ids:
        assert entitlement(external_id) == computed_entitlement(external_id), external_id
    clock.advance(timedelta(days=400))
    try:
        for external_id in external_ids:
            assert entitlement(external_id) == computed_entitlement(external_id), external_id
    finally:
        clock.advance(timedelta(days=-400))
    assert reconcile_entitlements() == []


def step(sub, event, args=dict):
    with atomic():
        fire(lock(Subscription, sub.id), event, actor="test", cause="read model", **args())


def with_card(sub):
    card = PaymentMethod.for_token(f"tk-{sub.id}", user_id=sub.customer_id, provider="sandbox", card_last_four="3055")
    db.session.add(card)
    db.session.commit()
    return lambda: {"payment_method": card}


@pytest.mark.parametrize("source,event,args,target,announced", SUBSCRIPTION_LEGAL,
                         ids=[f"{f}-{e}" for f, e, *_ in SUBSCRIPTION_LEGAL])
def test_every_legal_transition_leaves_the_read_model_agreeing(app, source, event, args, target, announced):
    # An older, ended subscription of the same customer must not be what the answer reports.
    old = make_subscription("canceled")
    sub = make_subscription(status=source, customer=old.customer)
    assert_agrees(sub)

    step(sub, event, args)

    assert db.session.get(Subscription, sub.id).status == target
    assert_agrees(sub)


@pytest.mark.parametrize("source,setup,event,args", GUARDED, ids=[e for _, _, e, _ in GUARDED])
def test_every_guarded_transition_leaves_the_read_model_agreeing(app, source, setup, event, args):
    sub = make_subscription(status=source)
    for earlier, earlier_args in setup:
        step(sub, earlier, earlier_args or with_card(sub))
        assert_agrees(sub)

    step(sub, event, args)

    assert_agrees(sub)


def test_the_tables_above_name_every_event_of_the_subscription_machine():
    exercised = {e for _, e, *_ in SUBSCRIPTION_LEGAL} | {e for _, _, e, _ in GUARDED} | {
        e for _, setup, _, _ in GUARDED for e, _ in setup}
    assert {event.id for event in SubscriptionMachine.events} == exercised


def test_a_whole_life_with_pause_plan_change_price_move_and_dunning_agrees_after_each_step(app):
    basic, premium = make_plan("basic"), make_plan("premium", amount=49900)
    sub = make_subscription("pending", plan=basic)
    steps = [
        ("refuse_trial", lambda: {"reason": "card_used"}), ("activate", period),
        ("schedule_pause", pause_for_two_months), ("pause", dict), ("resume", dict),
        ("change_plan", lambda: {"plan": premium}), ("schedule_price_change", new_price),
        ("apply_price_change", dict), ("renew", period), ("mark_past_due", dict), ("renew", period),
        ("mark_past_due", dict), ("expire", dict),
    ]
    assert_agrees(sub)
    for event, args in steps:
        step(sub, event, args)
        assert_agrees(sub)
    assert entitlement(sub.customer.external_id) == Entitlement(entitled=False)

    again = make_subscription("pending", plan=basic, customer=sub.customer)
    for event, args in [("activate", period), ("schedule_cancel", dict), ("cancel", dict)]:
        step(again, event, args)
        assert_agrees(again)


def test_a_customer_without_a_subscription_has_a_row_that_says_not_entitled(app):
    customer = make_customer(external_id="auth-none")

    assert entitlement("auth-none") == Entitlement(entitled=False)
    assert_agrees(customer)


def test_an_anonymised_customer_is_known_and_not_entitled(app):
    from portal.billing.customers import forget_customer

    sub = make_subscription("active")
    forget_customer(sub.customer.external_id, actor="test", cause="customer.deleted")

    assert entitlement(sub.customer.external_id) == Entitlement(entitled=False)
    assert_agrees(sub)


def test_joining_a_web_account_to_the_platform_customer_moves_its_entitlement(app):
    from portal.account_email import prove_address
    from portal.accounts import ensure_user
    from portal.billing.customers import upsert_customer

    web, _ = ensure_user("joined@example.com", password="long enough")
    platform = upsert_customer("platform-joined", "joined@example.com")
    db.session.commit()
    bought = make_subscription("active", customer=web)
    assert entitlement("platform-joined") == Entitlement(entitled=False)

    prove_address(web, actor="test")
    db.session.commit()

    found = entitlement("platform-joined")
    assert (found.entitled, found.subscription_id) == (True, bought.id)
    assert db.session.scalar(select(func.count()).select_from(CustomerEntitlement)) == 1
    assert_agrees(db.session.get(User, platform.id))


def test_reconciliation_finds_and_repairs_a_row_written_around_the_application(app):
    sub = make_subscription("active")
    db.session.execute(update(CustomerEntitlement).values(status="paused"))
    db.session.commit()
    assert entitlement(sub.customer.external_id).entitled is False

    assert reconcile_entitlements() == [sub.customer_id]

    assert entitlement(sub.customer.external_id).entitled is True
    assert_agrees(sub)


def test_ops_reconcile_from_the_command_line(app, runner):
    sub = make_subscription("active")
    db.session.execute(update(CustomerEntitlement).values(until=None))
    db.session.commit()

    first, second = runner.invoke(args=["reconcile-entitlements"]), runner.invoke(args=["reconcile-entitlements"])

    assert first.exit_code == 0 and f"entitlements rewritten: 1 (customers {sub.customer_id})" in first.output
    assert second.output.strip() == "entitlements rewritten: 0"


def test_a_burst_of_pays_applied_in_one_batch_grants_each_customer_at_once(billing, live):  # noqa: F811
    from tests.flows.test_inbox import checkouts, notify

    invoices = checkouts(billing, 12)
    for n, invoice in enumerate(invoices):
        notify(live, invoice, 7790000 + n)
    assert [entitlement(i.customer.external_id).entitled for i in invoices] == [False] * 12

    billing.work()

    assert [entitlement(i.customer.external_id).status for i in invoices] == ["active"] * 12
    assert_agrees(*invoices)


def test_two_transactions_changing_one_customer_at_once_leave_the_row_right(app):
    import threading

    from portal.models.entitlement import rewrite_entitlements

    current = make_subscription("active", period_days=30)
    customer_id = current.customer_id
    longer = make_subscription("pending", customer=current.customer)
    first_holds_the_row = threading.Event()

    def activate_the_longer_one():
        with app.app_context():
            try:
                with atomic():
                    fire(lock(Subscription, longer.id), "activate", actor="test", period_start=clock.now(),
                         period_end=clock.now() + timedelta(days=60))
                    rewrite_entitlements(db.session.connection(), [customer_id])  # holds the row from here
                    first_holds_the_row.set()
                    db.session.execute(select(func.pg_sleep(0.6)))
            finally:
                db.session.remove()

    def cancel_the_current_one():
        with app.app_context():
            try:
                first_holds_the_row.wait(timeout=10)
                with atomic():  # sees the longer one still pending, until it waits for the row
                    fire(lock(Subscription, current.id), "cancel", actor="test")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=activate_the_longer_one), threading.Thread(target=cancel_the_current_one)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    found = entitlement(current.customer.external_id)
    assert (found.status, found.subscription_id) == ("active", longer.id)
    assert_agrees(longer)
