"""Staff see a customer's mails on the customer page (purpose, status, time, error) and can send one again;
the resend is in the staff audit log and arrives at the customer's address of now."""
from sqlalchemy import select

from portal.extensions import db
from portal.mail.reminders import reminders_due
from portal.models import StaffAction, User
from tests.auth.helpers import csrf_token, sign_in
from tests.factories import make_customer, make_plan, make_subscription
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
