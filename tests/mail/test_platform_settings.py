"""The platform's say over a customer's mail, through the existing `customer.upsert` command: no billing mail
for a customer it mails itself, and the language and time zone billing mails are written in."""
from sqlalchemy import select

from portal.bus.consumer import consume_available
from portal.extensions import db
from portal.mail.reminders import reminders_due
from portal.models import User
from tests.factories import make_plan, make_subscription
from tests.mail.support import stored_mails
from tests.mailbox import run_jobs


def customer(external_id):
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.external_id == external_id))


def test_customer_upsert_asks_for_no_billing_mail_and_for_it_again(app, topology, send_command, mailbox):
    send_command({"external_id": "auth-m1", "email": "m1@example.com", "billing_mail": False, "locale": "en",
                  "time_zone": "Asia/Yekaterinburg"}, command="customer.upsert")
    assert [o.status for o in consume_available()] == ["processed"]
    user = customer("auth-m1")
    assert (user.billing_mail, user.locale, user.time_zone) == (False, "en", "Asia/Yekaterinburg")

    make_subscription(status="trialing", plan=make_plan(trial_days=7), customer=user, period_days=2)
    assert reminders_due() == 1
    run_jobs()
    assert stored_mails() == [] and mailbox.messages("m1@example.com") == []

    # An upsert without the field leaves the setting as it was; true turns billing mail back on.
    send_command({"external_id": "auth-m1", "email": "m1@example.com"}, command="customer.upsert")
    consume_available()
    assert customer("auth-m1").billing_mail is False
    send_command({"external_id": "auth-m1", "email": "m1@example.com", "billing_mail": True},
                 command="customer.upsert")
    consume_available()
    assert customer("auth-m1").billing_mail is True


def test_an_unknown_time_zone_or_language_is_dead_lettered_with_the_reason(app, topology, send_command,
                                                                           dead_letters):
    send_command({"external_id": "auth-m2", "email": "m2@example.com", "time_zone": "Mars/Olympus"},
                 command="customer.upsert")
    send_command({"external_id": "auth-m3", "email": "m3@example.com", "locale": "de"}, command="customer.upsert")
    assert [o.status for o in consume_available()] == ["rejected", "rejected"]
    reasons = [props.headers["x-rejection-reason"] for _, props, _ in dead_letters()]
    assert "Mars/Olympus" in reasons[0] and "IANA" in reasons[0]
    assert "'de' is not one of ['ru', 'en']" in reasons[1]
    assert customer("auth-m2") is None and customer("auth-m3") is None


def test_a_deleted_customer_s_mails_keep_what_happened_but_not_the_address_or_the_text(app, topology, send_command,
                                                                                       mailbox):
    send_command({"external_id": "auth-m4", "email": "m4@example.com"}, command="customer.upsert")
    consume_available()
    make_subscription(status="trialing", plan=make_plan(trial_days=7), customer=customer("auth-m4"), period_days=2)
    reminders_due()
    run_jobs()
    mailbox.wait_for("m4@example.com")

    send_command({"external_id": "auth-m4"}, command="customer.deleted")
    assert [o.status for o in consume_available()] == ["processed"]
    run_jobs()
    [mail] = stored_mails()
    assert (mail.purpose, mail.status) == ("trial_ending", "sent")
    assert (mail.to_address, mail.text_body, mail.html_body, mail.unsubscribe_url) == ("", "", "", None)
    assert len(mailbox.messages("m4@example.com")) == 1  # and the cancellation is not mailed to nobody
