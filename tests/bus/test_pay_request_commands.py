"""The platform asks a customer to pay without a page of ours open: `subscription.checkout` (a first
subscription, or again after one ended) and `subscription.replace_card` open what the customer's own buttons
open and mail them a link to that one payment page; paying there is answered by the usual events."""
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from portal.billing.checkout import widget_parameters
from portal.bus.consumer import consume_available
from portal.extensions import db
from portal.models import Invoice, OutgoingMail, Subscription
from tests.admin.support import paid_subscription
from tests.factories import make_customer, make_plan
from tests.flows.conftest import LATER_DECLINED_CARD, SUCCESS_CARD
from tests.mailbox import link_to, run_jobs, text_of


def fresh(model, id):
    db.session.expire_all()
    return db.session.get(model, id)


def arrived(mailbox, to, subject):
    """The one mail of that subject to `to`, once it arrived (the receipt of the first payment comes too)."""
    for _ in range(50):
        found = [m for m in mailbox.wait_for(to, work=run_jobs) if m["Subject"] == subject]
        if found:
            [mail] = found
            return mail
    raise AssertionError(f"no mail {subject!r} to {to}")


def mails_of(customer_id, purpose):
    return db.session.scalar(select(func.count()).select_from(OutgoingMail).where(
        OutgoingMail.user_id == customer_id, OutgoingMail.purpose == purpose))


def test_a_checkout_command_mails_a_link_that_resubscribes_the_customer_once_paid(app, billing, topology,
                                                                                  send_command, mailbox):
    sub = paid_subscription(billing)
    sub.status, sub.ended_at = "canceled", sub.current_period_start
    db.session.commit()
    customer = sub.customer

    payload = {"customer_external_id": customer.external_id, "plan": "monthly"}
    send_command(payload, command="subscription.checkout")
    send_command(payload, command="subscription.checkout")  # another message id, the same request
    assert [o.status for o in consume_available()] == ["processed", "processed"]

    [new] = db.session.scalars(select(Subscription).where(Subscription.customer_id == customer.id,
                                                          Subscription.status == "pending")).all()
    invoice = db.session.scalar(select(Invoice).where(Invoice.subscription_id == new.id))
    assert (invoice.kind, invoice.status, invoice.amount) == ("initial", "open", 29900)  # no second trial
    assert fresh(Subscription, sub.id).status == "canceled"  # the history is kept
    mail = arrived(mailbox, customer.email, "Ваша подписка готова к оформлению")
    assert "оплатите 299,00\xa0₽" in text_of(mail)
    assert mails_of(customer.id, "checkout_request") == 1

    landing = app.test_client().get(urlsplit(link_to(mail, "/mail/pay/")).path, follow_redirects=True)
    assert landing.status_code == 200 and landing.request.path == f"/account/pay/{invoice.id}"
    assert billing.pay(widget_parameters(invoice), card=SUCCESS_CARD)["Success"] is True
    billing.work()
    assert fresh(Subscription, new.id).status == "active"


def test_a_replace_card_command_mails_a_card_check_whose_card_becomes_the_renewal_card(app, billing, topology,
                                                                                       send_command, mailbox):
    sub = paid_subscription(billing, card=LATER_DECLINED_CARD)
    send_command({"subscription_id": sub.id}, command="subscription.replace_card")
    send_command({"subscription_id": sub.id}, command="subscription.replace_card")
    assert [o.status for o in consume_available()] == ["processed", "processed"]

    [check] = db.session.scalars(select(Invoice).where(Invoice.subscription_id == sub.id,
                                                       Invoice.kind == "card_check")).all()
    mail = arrived(mailbox, sub.customer.email, "Замените карту для подписки")
    assert "1,00\xa0₽ для проверки" in text_of(mail) and "Текущая карта: •••• " in text_of(mail)
    assert mails_of(sub.customer_id, "card_check_request") == 1
    landing = app.test_client().get(urlsplit(link_to(mail, "/mail/pay/")).path, follow_redirects=True)
    assert landing.status_code == 200 and landing.request.path == f"/account/pay/{check.id}"

    assert billing.pay(widget_parameters(check), card=SUCCESS_CARD)["Success"] is True
    billing.work()
    billing.work()
    assert fresh(Subscription, sub.id).payment_method.card_last_four == "3055"


@pytest.mark.parametrize("command,payload,reason", [
    ("subscription.checkout", {"customer_external_id": "nobody", "plan": "monthly"}, "no customer with external id"),
    ("subscription.checkout", {"customer_external_id": "ext-live", "plan": "monthly"}, "already has subscription"),
    ("subscription.checkout", {"customer_external_id": "ext-live", "plan": "gold"}, "no plan with code 'gold'"),
    ("subscription.checkout", {"customer_external_id": "ext-live"}, "schema: 'plan' is a required property"),
    ("subscription.replace_card", {"subscription_id": 999999}, "subscription 999999 does not exist"),
    ("subscription.replace_card", {"subscription_id": "ended"}, "only a live subscription"),
])
def test_a_pay_request_that_cannot_be_made_is_dead_lettered_and_mails_nothing(app, topology, send_command,
                                                                              dead_letters, command, payload, reason):
    from tests.factories import make_subscription

    make_plan(code="monthly", amount=29900)
    live = make_subscription(status="active", customer=make_customer(external_id="ext-live"))
    ended = make_subscription(status="canceled")
    if payload.get("subscription_id") == "ended":
        payload = {"subscription_id": ended.id}
    send_command(payload, command=command)
    [outcome] = consume_available()
    assert outcome.status == "rejected"
    [(_, props, _)] = dead_letters()
    assert reason in props.headers["x-rejection-reason"]
    assert db.session.scalar(select(func.count()).select_from(OutgoingMail)) == 0
    assert fresh(Subscription, live.id).status == "active"  # a refused checkout leaves the live one as it was
