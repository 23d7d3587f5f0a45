"""The mail component: a mail stored in the transaction that decides it, delivered over real SMTP (the test
server in this process) by a job after commit, once; refusals retried with backoff and given up; the
embedded default's .eml folder and its local page."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal import clock, create_app
from portal.config import ConfigurationError, check
from portal.extensions import db
from portal.mail import queue_mail
from portal.mail.delivery import BACKOFF, MAX_ATTEMPTS, deliver, sweep
from portal.mail.transport import SmtpServer, parse_smtp_url
from portal.models import OutgoingMail
from tests.admin.conftest import Browser
from tests.auth.helpers import sign_in
from tests.mailbox import free_port, html_of, run_jobs, text_of


def a_verification_mail(to="reader@example.com", key="user:1", locale="en"):
    return queue_mail("verify_email", key, to=to, locale=locale, link="https://cinema.test/auth/verify/t0k3n",
                      hours=48)


def mails():
    db.session.expire_all()
    return db.session.scalars(select(OutgoingMail).order_by(OutgoingMail.id)).all()


def test_a_mail_is_stored_with_its_transaction_and_sent_over_smtp_after_commit(app, mailbox):
    mail = a_verification_mail()
    assert mailbox.messages() == []  # nothing leaves before the transaction commits
    db.session.commit()
    run_jobs()

    [message] = mailbox.wait_for("reader@example.com")
    assert message["Subject"] == "Confirm your email address"
    assert message["From"] == "Cinema <billing@cinema.test>"
    assert message["Message-ID"] == f"<portal-mail-{mail.id}.verify_email@cinema.test>"
    assert "https://cinema.test/auth/verify/t0k3n" in text_of(message)
    assert 'href="https://cinema.test/auth/verify/t0k3n"' in html_of(message)
    [row] = mails()
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None) and row.sent_at is not None


def test_a_rolled_back_transaction_sends_no_mail(app, mailbox):
    a_verification_mail()
    db.session.rollback()
    run_jobs()
    assert mails() == [] and mailbox.messages() == []


def test_the_same_purpose_and_subject_is_one_mail(app, mailbox):
    first = a_verification_mail()
    db.session.commit()
    again = a_verification_mail()
    db.session.commit()
    run_jobs()
    assert again.id == first.id and len(mails()) == 1
    assert len(mailbox.wait_for("reader@example.com")) == 1


def test_a_second_job_for_a_delivered_mail_sends_nothing(app, mailbox):
    mail = a_verification_mail()
    db.session.commit()
    assert deliver(mail.id) == "sent"
    assert deliver(mail.id) == "sent"
    assert len(mailbox.messages("reader@example.com")) == 1


def test_a_russian_reader_gets_the_mail_in_russian(app, mailbox):
    a_verification_mail(locale="ru")
    db.session.commit()
    run_jobs()
    [message] = mailbox.wait_for("reader@example.com")
    assert message["Subject"] == "Подтвердите адрес электронной почты"
    assert message["Content-Language"] == "ru"
    assert "Добро пожаловать" in text_of(message)


def test_a_temporary_refusal_is_retried_with_backoff_and_given_up_after_the_bound(app, mailbox):
    clock.freeze(clock.now())
    mail = a_verification_mail(to="tempfail@example.com")
    db.session.commit()
    for attempt in range(1, MAX_ATTEMPTS):
        assert deliver(mail.id) == "retrying"
        [row] = mails()
        assert row.attempts == attempt and "451" in row.last_error
        assert row.next_attempt_at == clock.now() + BACKOFF[attempt - 1]
        assert sweep() == 0  # not due yet
        clock.advance(BACKOFF[attempt - 1])
        assert sweep() == 1
    assert deliver(mail.id) == "failed"
    [row] = mails()
    assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)
    clock.advance(timedelta(days=1))
    assert sweep() == 0 and mailbox.messages() == []


def test_a_permanent_refusal_is_given_up_at_once(app, mailbox):
    mail = a_verification_mail(to="bounce@example.com")
    db.session.commit()
    assert deliver(mail.id) == "failed"
    [row] = mails()
    assert row.attempts == 1 and "550" in row.last_error


def test_a_server_that_does_not_answer_is_retried_and_then_delivers(app, mailbox):
    clock.freeze(clock.now())
    mail = a_verification_mail()
    db.session.commit()
    app.config["SMTP_URL"], working = "smtp://127.0.0.1:9", app.config["SMTP_URL"]
    try:
        assert deliver(mail.id) == "retrying"
        assert "ConnectionRefusedError" in mails()[0].last_error
    finally:
        app.config["SMTP_URL"] = working
    clock.advance(BACKOFF[0])
    assert sweep() == 1
    run_jobs()
    assert [m.status for m in mails()] == ["sent"]
    assert len(mailbox.wait_for("reader@example.com")) == 1


def test_a_try_whose_worker_died_is_taken_up_again_by_the_sweeper(app, mailbox):
    clock.freeze(clock.now())
    mail = a_verification_mail()
    db.session.commit()
    row = db.session.get(OutgoingMail, mail.id)
    row.status, row.attempts, row.last_attempt_at = "sending", 1, clock.now()  # claimed, then SIGKILLed
    db.session.commit()
    assert sweep() == 0 and deliver(mail.id) == "sending"  # a live try is left alone
    clock.advance(timedelta(minutes=6))
    assert sweep() == 1
    run_jobs()
    assert [(m.status, m.attempts) for m in mails()] == [("sent", 2)]


def test_staff_see_mail_that_was_not_delivered_on_the_operations_page(app, client, mailbox):
    from portal.accounts import ensure_user

    ensure_user("ops@example.com", password="correct horse", role="staff", verified=True)
    mail = a_verification_mail(to="bounce@example.com")
    db.session.commit()
    deliver(mail.id)
    sign_in(client, "ops@example.com")
    page = Browser(client, None).get("/admin/operations").get_data(as_text=True)
    section = page.split('id="undelivered-mail"')[1]
    assert "bounce@example.com" in section and "given up" in section and "550" in section


@pytest.mark.parametrize(("url", "server"), [
    ("smtp://mail.example", SmtpServer("mail.example", 25, None)),
    ("smtp+starttls://billing:p%40ss%3Aword@mail.example", SmtpServer("mail.example", 587, "starttls", "billing",
                                                                       "p@ss:word")),
    ("smtps://billing:secret@mail.example:2465", SmtpServer("mail.example", 2465, "tls", "billing", "secret")),
])
def test_smtp_url_names_host_port_security_and_credentials(url, server):
    assert parse_smtp_url(url) == server
    assert "secret" not in repr(parse_smtp_url(url)) and "p@ss" not in repr(parse_smtp_url(url))


@pytest.mark.parametrize(("settings", "named"), [
    ({"SMTP_URL": None}, "SMTP_URL must be set"),
    ({"MAIL_FROM": " "}, "MAIL_FROM must be set"),
    ({"SMTP_URL": "smtp://user:hunter2@mail.example:twenty-five"}, "SMTP_URL: the port is not a number"),
])
def test_a_deployment_without_a_working_mail_setting_refuses_to_start_naming_it(test_config, settings, named):
    with pytest.raises(ConfigurationError, match=named) as refused:
        check({**test_config, **settings})
    assert "hunter2" not in str(refused.value)


@pytest.fixture
def embedded_app(test_config, tmp_path):
    """The embedded default's mail settings (no SMTP_URL, mails into the instance folder) on the test database."""
    app = create_app({**test_config, "EMBEDDED": True, "SMTP_URL": None, "PORTAL_INSTANCE": str(tmp_path),
                      "MAIL_FROM": "Cinema <billing@localhost>"})
    with app.app_context():
        yield app
        db.session.rollback()
        db.session.execute(OutgoingMail.__table__.delete())
        db.session.commit()
        db.session.remove()


def test_the_embedded_default_writes_eml_files_listed_on_a_local_page(embedded_app, tmp_path):
    mail = a_verification_mail(to="first.look@example.com")
    db.session.commit()
    assert deliver(mail.id) == "sent"
    assert deliver(mail.id) == "sent"
    [eml] = (tmp_path / "mail").glob("*.eml")
    assert b"first.look@example.com" in eml.read_bytes()

    client = embedded_app.test_client()
    listing = client.get("/dev/mail").get_data(as_text=True)
    assert listing.count('class="dev-mail-row"') == 1 and "Confirm your email address" in listing
    opened = client.get(f"/dev/mail/{eml.name}").get_data(as_text=True)
    assert '<a href="https://cinema.test/auth/verify/t0k3n">' in opened
    assert client.get("/dev/mail", environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code == 404
    assert client.get("/dev/mail/..%2Fportal.sqlite3").status_code == 404
    assert db.session.scalar(select(func.count(OutgoingMail.id))) == 1


def test_a_configured_deployment_has_no_local_mail_page(client):
    assert client.get("/dev/mail").status_code == 404


def test_the_first_tries_of_a_burst_go_over_one_connection_and_a_refused_one_fails_alone(app, mailbox):
    for n in range(12):
        to = "bounce@example.com" if n == 3 else "tempfail@example.com" if n == 7 else f"reader{n}@example.com"
        a_verification_mail(to=to, key=f"user:{n}")
    db.session.commit()
    run_jobs()

    assert len(mailbox.messages()) == 10 and mailbox.connections() == 1
    by_address = {row.to_address: row for row in mails()}
    assert {row.status for address, row in by_address.items() if address.startswith("reader")} == {"sent"}
    assert all(row.attempts == 1 for row in by_address.values())
    bounced, later = by_address["bounce@example.com"], by_address["tempfail@example.com"]
    assert bounced.status == "failed" and "550" in bounced.last_error
    assert later.status == "retrying" and "451" in later.last_error
    assert later.next_attempt_at >= clock.now() + BACKOFF[0] - timedelta(seconds=5)


def test_first_tries_the_server_cannot_take_are_retried_with_backoff(app, mailbox):
    for n in range(3):
        a_verification_mail(to=f"reader{n}@example.com", key=f"user:{n}")
    db.session.commit()
    url, app.config["SMTP_URL"] = app.config["SMTP_URL"], f"smtp://127.0.0.1:{free_port()}"  # nothing listens there
    try:
        run_jobs()
    finally:
        app.config["SMTP_URL"] = url
    assert [(row.status, row.attempts) for row in mails()] == [("retrying", 1)] * 3
    clock.freeze(clock.now() + BACKOFF[0] + timedelta(seconds=1))
    assert sweep() == 3
    run_jobs()
    assert [row.status for row in mails()] == ["sent"] * 3 and len(mailbox.messages()) == 3
