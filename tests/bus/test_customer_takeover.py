"""Finding 1, the bus variant: `customer.upsert` links a web account only when its email is verified; an
unverified one stays apart from the platform's customer until the owner of the address proves it."""
from sqlalchemy import select

from portal.accounts import find_by_email, password_matches
from portal.bus.consumer import consume_available
from portal.extensions import db
from portal.models import User
from tests.auth.helpers import sign_in
from tests.auth.mail_helpers import form_post, mail_to, path_of, sign_up
from tests.mailbox import link_to


def rows_for(email):
    db.session.expire_all()
    return db.session.scalars(select(User).where(User.email == email).order_by(User.id)).all()


def test_customer_upsert_keeps_an_unverified_web_account_apart(app, client, topology, send_command, mailbox):
    sign_up(client, "future.victim@example.com", password="attackers password")

    send_command({"external_id": "platform-victim-1", "email": "future.victim@example.com"},
                 command="customer.upsert")
    assert [o.status for o in consume_available()] == ["processed"]

    squatter, customer = rows_for("future.victim@example.com")
    assert (squatter.external_id, customer.external_id) == (None, "platform-victim-1")
    # Signing in with the squatter's password opens the squatter's own, empty account.
    assert sign_in(client, "future.victim@example.com", "attackers password").status_code == 303
    with client.session_transaction() as session:
        assert session["_user_id"].startswith(f"{squatter.id}.")


def test_customer_upsert_then_the_owner_verifying_makes_one_account(app, client, topology, send_command, mailbox):
    sign_up(client, "owner@example.com", password="owners password")
    link = path_of(link_to(mail_to(mailbox, "owner@example.com"), "/auth/verify/"))
    send_command({"external_id": "platform-owner-1", "email": "owner@example.com", "name": "Anna"},
                 command="customer.upsert")
    assert [o.status for o in consume_available()] == ["processed"]
    assert len(rows_for("owner@example.com")) == 2

    assert form_post(client, link, {"password": "owners password"}).status_code == 303

    [account] = rows_for("owner@example.com")
    assert (account.external_id, account.name) == ("platform-owner-1", "Anna")
    assert password_matches(account, "owners password") and account.email_verified_at is not None
    # Later upserts address the one account.
    send_command({"external_id": "platform-owner-1", "email": "owner@example.com", "name": "Anna K."},
                 command="customer.upsert")
    assert [o.status for o in consume_available()] == ["processed"]
    assert find_by_email("owner@example.com").name == "Anna K." and len(rows_for("owner@example.com")) == 1
