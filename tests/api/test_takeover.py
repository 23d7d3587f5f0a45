"""Finding 1 (issue 14): a web account signed up with someone else's address must not become the customer
the platform creates for that address. POST /api/v1/pay links a web account only when its email is
verified; otherwise the platform's customer stays apart until the owner of the address proves it, and
then the two become one account, the platform's customer."""
from sqlalchemy import func, select

from portal.accounts import find_by_email, password_matches
from portal.extensions import db
from portal.models import Subscription, Transition, User
from tests.auth.helpers import csrf_token, sign_in
from tests.auth.mail_helpers import form_post, mail_to, path_of, sign_up
from tests.factories import make_plan
from tests.mailbox import link_to

PAY = "/api/v1/pay"
ATTACKER_PASSWORD = "attackers password"


def platform_pays(api, billing, external_id, email):
    """The platform starts a checkout for its customer and the customer pays in the widget."""
    response = api.post(PAY, json={"customer": {"external_id": external_id, "email": email}, "plan": "monthly"})
    assert response.status_code == 201, response.get_json()
    assert billing.pay(response.get_json()["widget"])["Success"] is True
    billing.work()
    db.session.expire_all()
    return response.get_json()["subscription"]["id"]


def entitled(api, external_id) -> bool:
    return api.get(f"/api/v1/customers/{external_id}/entitlement").get_json()["entitled"]


def test_a_web_sign_up_before_the_victim_arrives_takes_nothing_over(api, client, billing, mailbox):
    make_plan("monthly", amount=29900)
    sign_up(client, "future.victim@example.com", password=ATTACKER_PASSWORD)  # never verified

    sub_id = platform_pays(api, billing, "platform-victim-1", "future.victim@example.com")

    squatter = db.session.scalar(select(User).where(User.email == "future.victim@example.com",
                                                    User.external_id.is_(None)))
    victim = db.session.scalar(select(User).where(User.external_id == "platform-victim-1"))
    assert squatter is not None and victim is not None and squatter.id != victim.id
    assert db.session.get(Subscription, sub_id).customer_id == victim.id
    assert entitled(api, "platform-victim-1") is True

    # The attacker signs in with the password they chose: the victim's subscription is not theirs.
    assert sign_in(client, "future.victim@example.com", ATTACKER_PASSWORD).status_code == 303
    page = client.get("/account", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "No subscription yet" in page
    assert client.get(f"/account/subscriptions/{sub_id}/cancel").status_code == 404
    token = csrf_token(client, "/account")
    assert client.post(f"/account/subscriptions/{sub_id}/cancel", data={"csrf_token": token}).status_code == 404
    billing.work()
    assert entitled(api, "platform-victim-1") is True
    assert db.session.get(Subscription, sub_id).status == "active"


def test_the_owner_proving_the_address_joins_the_web_account_to_the_platform_customer(api, client, billing,
                                                                                      mailbox):
    make_plan("monthly", amount=29900)
    sign_up(client, "owner@example.com", password="owners password")
    link = path_of(link_to(mail_to(mailbox, "owner@example.com"), "/auth/verify/"))
    sub_id = platform_pays(api, billing, "platform-owner-1", "owner@example.com")
    web_id = db.session.scalar(select(User.id).where(User.email == "owner@example.com", User.external_id.is_(None)))

    assert form_post(client, link, {"password": "owners password"}).status_code == 303

    db.session.expire_all()
    [account] = db.session.scalars(select(User).where(User.email == "owner@example.com")).all()
    # The platform's record wins: its external id and its subscription; the web account brings its password.
    assert account.external_id == "platform-owner-1" and account.email_verified_at is not None
    assert password_matches(account, "owners password")
    assert db.session.get(User, web_id) is None
    assert db.session.get(Subscription, sub_id).customer_id == account.id
    page = client.get("/account", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'id="subscription-status"' in page and "Active" in page
    [joined] = db.session.scalars(select(Transition).where(Transition.entity_type == "customer")).all()
    assert (joined.entity_id, joined.event) == (account.id, "web_account_proved_address")


def test_the_owner_resetting_the_password_gets_the_customer_and_the_squatter_loses_the_sign_in(
        api, client, app, billing, mailbox):
    make_plan("monthly", amount=29900)
    squatter = app.test_client()
    sign_up(squatter, "target@example.com", password=ATTACKER_PASSWORD)
    assert sign_in(squatter, "target@example.com", ATTACKER_PASSWORD).status_code == 303
    platform_pays(api, billing, "platform-target-1", "target@example.com")

    # The real owner tries to sign up, is told by mail they have an account, and chooses a new password.
    sign_up(client, "target@example.com", password="owners password")
    exists = [m for m in mailbox.wait_for("target@example.com", count=2, work=billing.work)
              if m["Subject"] == "You already have an account"][0]
    reset = path_of(link_to(exists, "/auth/reset/"))
    assert form_post(client, reset, {"new_password": "owners password",
                                     "new_password_again": "owners password"}).status_code == 303

    db.session.expire_all()
    account = find_by_email("target@example.com")
    assert account.external_id == "platform-target-1" and password_matches(account, "owners password")
    assert db.session.scalar(select(func.count(User.id)).where(User.email == "target@example.com")) == 1
    assert squatter.get("/account").status_code == 302  # the squatter's session is gone
    assert sign_in(squatter, "target@example.com", ATTACKER_PASSWORD).status_code == 422


def test_a_verified_web_account_is_linked_by_pay_not_duplicated(api, client, mailbox):
    make_plan("monthly", amount=29900)
    sign_up(client, "proven@example.com", password="long enough")
    form_post(client, path_of(link_to(mail_to(mailbox, "proven@example.com"), "/auth/verify/")),
              {"password": "long enough"})
    web = find_by_email("proven@example.com")

    response = api.post(PAY, json={"customer": {"external_id": "platform-proven-1", "email": "proven@example.com"},
                                   "plan": "monthly"})

    assert response.status_code == 201
    db.session.expire_all()
    assert db.session.get(User, web.id).external_id == "platform-proven-1"
    assert db.session.scalar(select(func.count(User.id)).where(User.email == "proven@example.com")) == 1
