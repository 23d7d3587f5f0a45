"""The links we mail, read from the test SMTP server and opened as the reader would: email verification,
password reset, and email change, each signed, expiring and single-use; sign-up and reset requests that
answer alike for known and unknown addresses."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal import clock
from portal.accounts import find_by_email, password_matches
from portal.extensions import db
from portal.models import OutgoingMail, User
from tests.auth.helpers import PASSWORD, csrf_token, sign_in
from tests.auth.mail_helpers import EN, check_mail_page, form_post, mail_to, path_of, sign_up, user
from tests.factories import make_customer
from tests.mailbox import link_to, run_jobs, text_of

# --- verification ------------------------------------------------------------------------------------


def test_sign_up_mails_a_verification_link_that_confirms_the_address_with_the_password(client, mailbox):
    assert sign_up(client, "new.viewer@example.com").headers["Location"] == "/auth/check-mail"
    mail = mail_to(mailbox, "new.viewer@example.com")
    assert mail["Subject"] == "Confirm your email address"
    link = path_of(link_to(mail, "/auth/verify/"))
    assert user("new.viewer@example.com").email_verified_at is None

    page = client.get(link, headers=EN)
    assert page.status_code == 200 and "new.viewer@example.com" in page.get_data(as_text=True)
    confirmed = form_post(client, link, {"password": "long enough"})
    assert confirmed.status_code == 303 and confirmed.headers["Location"] == "/account"
    assert user("new.viewer@example.com").email_verified_at is not None
    assert client.get("/account").status_code == 200  # confirming signed the person in

    again = client.get(link, headers=EN)
    assert again.status_code == 400 and "used already" in again.get_data(as_text=True)


def test_a_verification_link_without_the_account_password_confirms_nothing(client, mailbox):
    """Whoever reads the mail but did not sign up (the address owner, clicking a stranger's link) cannot
    attach the address to the stranger's account."""
    sign_up(client, "someone.else@example.com", password="strangers password")
    link = path_of(link_to(mail_to(mailbox, "someone.else@example.com"), "/auth/verify/"))
    reader = client.application.test_client()

    refused = form_post(reader, link, {"password": "a guess at it"})

    assert refused.status_code == 422 and "not the password" in refused.get_data(as_text=True)
    assert user("someone.else@example.com").email_verified_at is None


def test_a_signed_in_account_confirms_with_one_click(client, mailbox):
    sign_up(client, "clicker@example.com")
    link = path_of(link_to(mail_to(mailbox, "clicker@example.com"), "/auth/verify/"))
    assert sign_in(client, "clicker@example.com", "long enough").status_code == 303
    page = client.get("/account", headers=EN).get_data(as_text=True)
    assert 'id="email-unconfirmed"' in page

    assert 'name="password"' not in client.get(link).get_data(as_text=True)
    assert form_post(client, link, {}).status_code == 303
    assert user("clicker@example.com").email_verified_at is not None
    assert 'id="email-unconfirmed"' not in client.get("/account").get_data(as_text=True)


def test_a_verification_link_expires_and_a_new_one_can_be_sent(client, mailbox):
    clock.freeze(clock.now())
    sign_up(client, "slow.reader@example.com")
    old = path_of(link_to(mail_to(mailbox, "slow.reader@example.com"), "/auth/verify/"))
    clock.advance(timedelta(hours=49))
    expired = client.get(old, headers=EN)
    assert expired.status_code == 400 and "expired" in expired.get_data(as_text=True)

    sign_in(client, "slow.reader@example.com", "long enough")
    token = csrf_token(client, "/account")
    assert client.post("/auth/verify/resend", data={"csrf_token": token}).status_code == 303
    fresh = path_of(link_to(mail_to(mailbox, "slow.reader@example.com", count=2), "/auth/verify/"))
    assert form_post(client, fresh, {}).status_code == 303
    assert user("slow.reader@example.com").email_verified_at is not None


@pytest.mark.parametrize("path", ["/auth/verify/not-a-token", "/auth/reset/not-a-token",
                                  "/auth/email/confirm/not-a-token", "/auth/verify/" + "x" * 5000])
def test_a_broken_link_is_a_400_page_saying_so(client, path):
    page = client.get(path, headers=EN)
    assert page.status_code == 400 and "not one of ours" in page.get_data(as_text=True)


# --- sign-up with a taken address ---------------------------------------------------------------------


def test_sign_up_with_a_registered_address_answers_like_a_new_one_and_mails_the_owner(client, app, mailbox):
    owner = make_customer(email="owner@example.com")
    newcomer = app.test_client()

    taken = sign_up(client, "owner@example.com", password="another password")
    free = sign_up(newcomer, "free@example.com", password="another password")

    assert (taken.status_code, taken.headers["Location"]) == (free.status_code, free.headers["Location"])
    taken_page, free_page = check_mail_page(client), check_mail_page(newcomer)
    assert taken_page.replace("owner@", "free@") == free_page
    assert "already" not in taken_page
    mail = mail_to(mailbox, "owner@example.com")
    assert mail["Subject"] == "You already have an account"
    assert "/auth/reset/" in text_of(mail) and "/auth/login" in text_of(mail)
    assert db.session.scalar(select(func.count(User.id)).where(User.email == "owner@example.com")) == 1
    assert password_matches(user("owner@example.com"), PASSWORD) and user("owner@example.com").id == owner.id
    assert [m.purpose for m in db.session.scalars(select(OutgoingMail).where(
        OutgoingMail.to_address == "owner@example.com"))] == ["account_exists"]


# --- password reset -----------------------------------------------------------------------------------


def test_the_reset_request_answers_the_same_for_known_and_unknown_addresses(client, app, mailbox):
    make_customer(email="known@example.com")
    stranger = app.test_client()

    known = form_post(client, "/auth/forgot", {"email": "known@example.com"})
    unknown = form_post(stranger, "/auth/forgot", {"email": "unknown@example.com"})

    assert (known.status_code, known.headers["Location"]) == (unknown.status_code, unknown.headers["Location"])
    known_page, unknown_page = check_mail_page(client), check_mail_page(stranger)
    assert known_page.replace("known@", "unknown@") == unknown_page
    assert mail_to(mailbox, "known@example.com")["Subject"] == "Reset your password"
    run_jobs()
    assert mailbox.messages("unknown@example.com") == []
    assert db.session.scalar(select(func.count(OutgoingMail.id))) == 1


def test_a_reset_link_sets_the_new_password_and_ends_every_session(client, app, mailbox):
    customer = make_customer(email="forgetful@example.com")
    other_device = app.test_client()
    assert sign_in(other_device, "forgetful@example.com").status_code == 303
    assert other_device.get("/account").status_code == 200

    form_post(client, "/auth/forgot", {"email": "forgetful@example.com"})
    link = path_of(link_to(mail_to(mailbox, "forgetful@example.com"), "/auth/reset/"))
    assert client.get(link).status_code == 200
    done = form_post(client, link, {"new_password": "a brand new one", "new_password_again": "a brand new one"})

    assert done.status_code == 303 and done.headers["Location"] == "/account"
    assert password_matches(user("forgetful@example.com"), "a brand new one")
    assert not password_matches(user("forgetful@example.com"), PASSWORD)
    # The cookie captured before the reset no longer opens the account.
    assert other_device.get("/account").status_code == 302
    assert client.get("/account").status_code == 200
    assert user("forgetful@example.com").id == customer.id


def test_a_reset_link_works_once(client, mailbox):
    make_customer(email="once@example.com")
    form_post(client, "/auth/forgot", {"email": "once@example.com"})
    link = path_of(link_to(mail_to(mailbox, "once@example.com"), "/auth/reset/"))
    form_post(client, link, {"new_password": "first new one", "new_password_again": "first new one"})

    replay = form_post(client.application.test_client(), link,
                       {"new_password": "second new one", "new_password_again": "second new one"})

    assert replay.status_code == 400 and "used already" in replay.get_data(as_text=True)
    assert password_matches(user("once@example.com"), "first new one")


def test_a_reset_link_expires_after_an_hour(client, mailbox):
    clock.freeze(clock.now())
    make_customer(email="later@example.com")
    form_post(client, "/auth/forgot", {"email": "later@example.com"})
    link = path_of(link_to(mail_to(mailbox, "later@example.com"), "/auth/reset/"))
    clock.advance(timedelta(minutes=61))

    late = form_post(client, link, {"new_password": "too late now", "new_password_again": "too late now"})

    assert late.status_code == 400 and "expired" in late.get_data(as_text=True)
    assert password_matches(user("later@example.com"), PASSWORD)


def test_a_reset_link_refuses_a_short_password_and_keeps_working(client, mailbox):
    make_customer(email="short@example.com")
    form_post(client, "/auth/forgot", {"email": "short@example.com"})
    link = path_of(link_to(mail_to(mailbox, "short@example.com"), "/auth/reset/"))
    refused = form_post(client, link, {"new_password": "short", "new_password_again": "short"})
    assert refused.status_code == 422 and "at least 8 characters" in refused.get_data(as_text=True)
    assert form_post(client, link, {"new_password": "long enough now",
                                    "new_password_again": "long enough now"}).status_code == 303


# --- email change -------------------------------------------------------------------------------------


def test_changing_the_email_confirms_the_new_address_and_tells_the_old_one(client, mailbox):
    customer = make_customer(email="old.address@example.com")
    sign_in(client, "old.address@example.com")
    asked = form_post(client, "/auth/email", {"email": "New.Address@example.com", "current_password": PASSWORD})
    assert asked.status_code == 303
    assert user("old.address@example.com").id == customer.id  # nothing changes before the link is opened

    link = path_of(link_to(mail_to(mailbox, "new.address@example.com"), "/auth/email/confirm/"))
    assert form_post(client, link, {}).status_code == 303

    moved = user("new.address@example.com")
    assert moved.id == customer.id and moved.email_verified_at is not None
    assert find_by_email("old.address@example.com") is None
    notice = mail_to(mailbox, "old.address@example.com")
    assert notice["Subject"] == "The email address of your account was changed"
    assert "new.address@example.com" in text_of(notice)
    assert form_post(client, link, {}).status_code == 400  # used


def test_an_email_change_needs_the_current_password(client, mailbox):
    make_customer(email="careful@example.com")
    sign_in(client, "careful@example.com")
    refused = form_post(client, "/auth/email", {"email": "elsewhere@example.com", "current_password": "wrong one"})
    assert refused.status_code == 422 and "not your current password" in refused.get_data(as_text=True)
    run_jobs()
    assert mailbox.messages("elsewhere@example.com") == []


def test_an_email_change_link_opened_by_its_reader_alone_changes_nothing(client, mailbox):
    """Someone asks to move their account to a victim's address; the victim clicks the link. Without the
    account's password (or its session) the address is not attached."""
    make_customer(email="asker@example.com")
    sign_in(client, "asker@example.com")
    form_post(client, "/auth/email", {"email": "victim@example.com", "current_password": PASSWORD})
    link = path_of(link_to(mail_to(mailbox, "victim@example.com"), "/auth/email/confirm/"))

    refused = form_post(client.application.test_client(), link, {})

    assert refused.status_code == 422
    assert find_by_email("victim@example.com") is None and find_by_email("asker@example.com") is not None


def test_an_email_change_to_an_address_of_another_account_is_refused_when_confirmed(client, mailbox):
    make_customer(email="mover@example.com")
    make_customer(email="occupied@example.com")
    sign_in(client, "mover@example.com")
    form_post(client, "/auth/email", {"email": "occupied@example.com", "current_password": PASSWORD})
    link = path_of(link_to(mail_to(mailbox, "occupied@example.com"), "/auth/email/confirm/"))

    refused = form_post(client, link, {})

    assert refused.status_code == 400 and "belongs to another account" in refused.get_data(as_text=True)
    assert find_by_email("mover@example.com") is not None


def test_mails_are_written_in_the_language_the_person_signed_up_in(client, mailbox):
    token = csrf_token(client, "/auth/signup")
    client.post("/auth/signup", data={"email": "zritel@example.com", "password": "long enough",
                                      "password_again": "long enough", "csrf_token": token},
                headers={"Accept-Language": "ru"})
    assert mail_to(mailbox, "zritel@example.com")["Subject"] == "Подтвердите адрес электронной почты"
    assert user("zritel@example.com").locale == "ru"


def test_a_forged_host_header_never_reaches_a_mailed_link(client, app, mailbox):
    """Password-reset poisoning: the links in mails are built on PUBLIC_URL, not on the request's Host."""
    make_customer(email="poisoned@example.com")
    token = csrf_token(client, "/auth/forgot")
    response = client.post("/auth/forgot", data={"email": "poisoned@example.com", "csrf_token": token},
                           headers={"Host": "evil.example"})
    run_jobs()
    if response.status_code == 400:  # refused outright (a host outside TRUSTED_HOSTS)
        assert mailbox.messages("poisoned@example.com") == []
        return
    link = link_to(mail_to(mailbox, "poisoned@example.com"), "/auth/reset/")
    assert link.startswith(app.config["PUBLIC_URL"] + "/auth/reset/") and "evil.example" not in link
