"""Staff see a customer's mails on the customer page (purpose, status, time, error) and can send one again;
the resend is in the staff audit log and arrives at the customer's address of now. A mail that could not be
built is retried, then listed as failed with its error, and built again on request."""
from datetime import timedelta

from sqlalchemy import select, update

from portal import clock
from portal.events import payment_data
from portal.extensions import db
from portal.mail.delivery import BACKOFF, MAX_ATTEMPTS
from portal.mail.events import build_event_mails
from portal.mail.reminders import reminders_due
from portal.models import OutboxMessage, Payment, StaffAction, User
from tests.auth.helpers import csrf_token, sign_in
from tests.factories import make_customer, make_invoice, make_plan, make_subscription
from tests.mail.support import stored_mails
from tests.mailbox import run_jobs, text_of


def test_staff_see_a_given_up_mail_with_its_error_and_resend_it_to_the_new_address(app, staff, mailbox):
    customer = make_customer(email="bounce-anna@example.com")
    make_subscription(status="trialing", plan=make_plan(trial_days=7), customer=customer, period_days=3)
    reminders_due()
    run_jobs()
    [given_up] = stored_mails()
    assert given_up.status == "failed"

    page = staff.get(f"/admin/customers/{customer.id}").get_data(as_text=True)
    assert 'id="mails"' in page and 'data-purpose="trial_ending"' in page
    assert "badge-mail-failed" in page and "550" in page and "refused" in page

    user = db.session.get(User, customer.id)
    user.email = "anna@example.com"
    db.session.commit()
    response = staff.post(f"/admin/mails/{given_up.id}/resend")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/customers/{customer.id}#mails")
    run_jobs()

    [message] = mailbox.wait_for("anna@example.com")
    assert message["Subject"] == given_up.subject and text_of(message).strip() == given_up.text_body.strip()
    original, copy = stored_mails()
    assert (original.status, copy.status, copy.to_address) == ("failed", "sent", "anna@example.com")
    [audit] = db.session.scalars(select(StaffAction).where(StaffAction.action == "mail.resend")).all()
    assert (audit.staff_user_id, audit.target_id, audit.remote_addr) == (staff.user.id, str(original.id), "203.0.113.7")
    assert audit.details["mail_id"] == copy.id and audit.details["to"] == "anna@example.com"
    listed = staff.get(f"/admin/customers/{customer.id}").get_data(as_text=True)
    assert listed.count('class="mail-row"') == 2 and "badge-mail-sent" in listed


def test_a_customer_cannot_resend_mails(app, client, mailbox):
    customer = make_customer()
    sign_in(client, customer.email)
    assert client.post("/admin/mails/1/resend", data={"csrf_token": csrf_token(client, "/account")}).status_code == 404


def test_an_event_whose_mail_cannot_be_built_is_retried_then_shown_to_staff_as_failed_and_rebuilt(app, staff, mailbox):
    customer = make_customer(email="boris@example.com")
    invoice = make_invoice(make_subscription(status="active", customer=customer), status="paid")
    payment = Payment(provider="sandbox", provider_transaction_id="gone-1", invoice=invoice, customer_id=customer.id,
                      amount=invoice.amount, currency=invoice.currency, status="completed", card_last_four="4242")
    db.session.add(payment)
    db.session.flush()
    db.session.add(OutboxMessage(routing_key="payment.succeeded", aggregate_type="payment", aggregate_id=payment.id,
                                 payload=payment_data(payment), created_at=clock.now(), publish_attempts=0))
    db.session.commit()
    payment_id = payment.id
    db.session.delete(payment)  # the event names a payment that is gone by the time its mail is built
    db.session.commit()

    build_event_mails()
    [record] = stored_mails()
    assert (record.purpose, record.status, record.attempts, record.user_id) == ("payment_receipt", "unbuilt", 1,
                                                                               customer.id)
    assert f"payments row {payment_id} that the event names does not exist" in record.last_error
    db.session.execute(update(OutboxMessage).values(mailed_at=None))  # the event is found again: still one record
    db.session.commit()
    build_event_mails()
    [record] = stored_mails()
    assert (record.status, record.attempts) == ("unbuilt", 2)
    for wait in BACKOFF:  # retried with the delivery's backoff, then given up
        clock.freeze(clock.now() + wait + timedelta(seconds=1))
        build_event_mails()
    [record] = stored_mails()
    assert (record.status, record.attempts) == ("failed", MAX_ATTEMPTS)
    assert mailbox.messages(customer.email) == []

    page = staff.get(f"/admin/customers/{customer.id}").get_data(as_text=True)
    assert 'data-purpose="payment_receipt"' in page and "badge-mail-failed" in page
    assert f"payments row {payment_id} that the event names does not exist" in page and "Rebuild" in page
    assert "build retrying" not in staff.get("/admin/operations").get_data(as_text=True)

    # The payment is back (restored from a backup): staff build the mail again and it arrives.
    db.session.add(Payment(id=payment_id, provider="sandbox", provider_transaction_id="gone-1", invoice_id=invoice.id,
                           customer_id=customer.id, amount=invoice.amount, currency=invoice.currency,
                           status="completed", card_last_four="4242"))
    db.session.commit()
    response = staff.post(f"/admin/mails/{record.id}/resend")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/customers/{customer.id}#mails")
    run_jobs()
    [receipt] = mailbox.wait_for(customer.email)
    assert receipt["Subject"] == "Оплата получена" and "•••• 4242" in text_of(receipt)
    record, built = stored_mails()
    assert (record.status, built.purpose, built.status) == ("rebuilt", "payment_receipt", "sent")
    [audit] = db.session.scalars(select(StaffAction).where(StaffAction.action == "mail.rebuild")).all()
    assert audit.target_id == str(record.id) and audit.details["was"] == "failed"
