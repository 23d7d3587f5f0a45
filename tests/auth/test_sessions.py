"""Sessions that end: sign-out refuses the copied cookie, sign out everywhere, a password change ends the
other sessions, and sessions end when idle or old (finding 2 of issue 14)."""
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from portal.auth import end_all_sessions
from portal.extensions import db
from portal.models import UserSession
from tests.auth.helpers import csrf_token, sign_in, signed_in_customer
from tests.factories import make_customer


def _cookie(client) -> str:
    return client.get_cookie("session").value


def _replay(app, cookie):
    """Another browser presenting a copy of the cookie."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief.get("/account")


def _sessions(user):
    db.session.expire_all()
    return db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)
                              .order_by(UserSession.id)).all()


def test_a_copied_cookie_is_refused_after_sign_out(client, app):
    customer = signed_in_customer(client)
    cookie = _cookie(client)
    assert _replay(app, cookie).status_code == 200  # the copy works while the session lives

    signed_out = client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/account")})
    assert signed_out.status_code == 303

    replayed = _replay(app, cookie)
    assert replayed.status_code == 302 and replayed.headers["Location"].startswith("/auth/login")
    [ended] = _sessions(customer)
    assert ended.ended_at is not None and ended.end_reason == "signed out"


def test_the_cookie_carries_a_token_the_database_keeps_only_hashed(client, app):
    customer = signed_in_customer(client)
    with client.session_transaction() as session:
        user_id, _, token = session["_user_id"].partition(".")
    [row] = _sessions(customer)
    assert user_id == str(customer.id) and len(token) >= 32
    assert token not in row.token_hash and len(row.token_hash) == 64


def test_sign_out_everywhere_ends_every_session_of_the_account(app):
    customer, other = make_customer(), make_customer()
    laptop, phone, someone_else = app.test_client(), app.test_client(), app.test_client()
    for device, person in ((laptop, customer), (phone, customer), (someone_else, other)):
        assert sign_in(device, person.email).status_code == 303
    phone_cookie = _cookie(phone)

    page = laptop.get("/account", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'id="sign-out-everywhere"' in page and "Sign out everywhere" in page
    response = laptop.post("/auth/logout-everywhere", data={"csrf_token": csrf_token(laptop, "/account")})

    assert response.status_code == 303 and response.headers["Location"] == "/auth/login"
    assert laptop.get("/account").status_code == 302
    assert phone.get("/account").status_code == 302
    assert _replay(app, phone_cookie).status_code == 302
    assert someone_else.get("/account").status_code == 200  # nobody else's sessions
    assert {s.end_reason for s in _sessions(customer)} == {"signed out everywhere"}


def test_sign_out_everywhere_is_a_post_with_the_token(client, app):
    signed_in_customer(client)
    assert client.get("/auth/logout-everywhere").status_code == 405
    assert client.post("/auth/logout-everywhere").status_code == 400
    assert client.get("/account").status_code == 200


def test_end_all_sessions_can_spare_the_current_one(app):
    customer = make_customer()
    laptop, phone = app.test_client(), app.test_client()
    for device in (laptop, phone):
        assert sign_in(device, customer.email).status_code == 303
    laptop_id = _sessions(customer)[0].id
    with app.test_request_context():
        from flask_login import login_user

        from portal.auth.session import Account
        login_user(Account(customer, db.session.get(UserSession, laptop_id), "unused"))
        assert end_all_sessions(customer, except_current=True, reason="password reset") == 1
        db.session.commit()
    assert laptop.get("/account").status_code == 200
    assert phone.get("/account").status_code == 302


def _age(user, **fields):
    db.session.execute(update(UserSession).where(UserSession.user_id == user.id).values(**fields))
    db.session.commit()


def test_a_customer_session_ends_after_two_weeks_idle(client, app):
    customer = signed_in_customer(client)
    _age(customer, last_seen_at=datetime.now(UTC) - timedelta(days=13))
    assert client.get("/account").status_code == 200  # and the visit counts as activity
    assert _sessions(customer)[0].last_seen_at > datetime.now(UTC) - timedelta(minutes=1)

    _age(customer, last_seen_at=datetime.now(UTC) - timedelta(days=14, minutes=1))
    assert client.get("/account").status_code == 302


def test_a_customer_session_ends_after_thirty_days_however_busy(client, app):
    customer = signed_in_customer(client)
    _age(customer, created_at=datetime.now(UTC) - timedelta(days=30, minutes=1), last_seen_at=datetime.now(UTC))
    assert client.get("/account").status_code == 302


def test_a_staff_session_ends_after_an_hour_idle(client, app):
    staff = make_customer(email="boss@example.com")
    staff.role = "staff"
    db.session.commit()
    assert sign_in(client, staff.email).status_code == 303
    _age(staff, last_seen_at=datetime.now(UTC) - timedelta(minutes=61))
    assert client.get("/account").status_code == 302


def test_the_session_cookie_lives_no_longer_than_a_session_may(client, app):
    response = sign_in(client, make_customer().email)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Expires=" in cookie
    assert app.permanent_session_lifetime == timedelta(days=30)
