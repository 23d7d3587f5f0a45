"""Sign up, sign in, sign out and password change, one sign-in for customers and staff."""
import pytest
from flask_login import current_user

from portal import create_app
from portal.accounts import find_by_email, password_matches
from portal.auth import staff_required
from portal.extensions import db
from tests.auth.helpers import PASSWORD, csrf_token, sign_in, signed_in_customer
from tests.factories import make_customer


def test_sign_up_creates_the_account_and_asks_to_confirm_the_address(client, app):
    token = csrf_token(client, "/auth/signup")
    response = client.post("/auth/signup", data={"email": "New@Example.com", "password": "long enough",
                                                 "password_again": "long enough", "csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/auth/check-mail"
    user = find_by_email("new@example.com")
    assert user.role == "customer" and password_matches(user, "long enough")
    assert user.password_hash.startswith("scrypt:") and user.email_verified_at is None
    page = client.get("/auth/check-mail", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "We have sent a link to new@example.com" in page
    # Signed in only once the address is confirmed (or with the password on the sign-in page).
    assert client.get("/account").status_code == 302


@pytest.mark.parametrize("form,field_message", [
    ({"email": "not-an-email", "password": "long enough", "password_again": "long enough"}, "Enter an email address"),
    ({"email": "a@example.com", "password": "short", "password_again": "short"}, "at least 8 characters"),
    ({"email": "a@example.com", "password": "long enough", "password_again": "long enougH"}, "passwords differ"),
])
def test_sign_up_refuses_bad_input_and_says_why(client, app, form, field_message):
    token = csrf_token(client, "/auth/signup")
    response = client.post("/auth/signup", data={**form, "csrf_token": token}, headers={"Accept-Language": "en"})
    assert response.status_code == 422
    assert field_message in response.get_data(as_text=True)
    assert find_by_email("a@example.com") is None


def test_sign_up_with_a_taken_email_says_nothing_of_it(client, app):
    make_customer(email="taken@example.com")
    token = csrf_token(client, "/auth/signup")
    response = client.post("/auth/signup", data={"email": "taken@example.com", "password": "long enough",
                                                 "password_again": "long enough", "csrf_token": token},
                           headers={"Accept-Language": "en"})
    assert response.status_code == 303 and response.headers["Location"] == "/auth/check-mail"
    assert "already exists" not in client.get("/auth/check-mail").get_data(as_text=True)


def test_sign_in_starts_a_new_session(client, app):
    customer = make_customer()
    before = csrf_token(client)
    response = sign_in(client, customer.email.upper())
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    with client.session_transaction() as session:
        assert session["_user_id"].startswith(f"{customer.id}.")
        assert session.get("csrf_token") != before  # the anonymous session's token does not carry over
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("email,password", [("known@example.com", "wrong password"),
                                            ("nobody@example.com", PASSWORD)])
def test_wrong_password_and_unknown_email_get_the_same_answer(client, app, email, password):
    make_customer(email="known@example.com")
    response = sign_in(client, email, password, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 422
    assert "Wrong email or password." in response.get_data(as_text=True)
    assert client.get("/account").status_code == 302


@pytest.mark.parametrize("next_path,landing", [
    ("/account/invoices/1", "/account/invoices/1"),
    ("//evil.example/phish", "/account"),
    ("https://evil.example/", "/account"),
    ("/\\evil.example", "/account"),
])
def test_sign_in_goes_back_only_to_this_site(client, app, next_path, landing):
    customer = make_customer()
    token = csrf_token(client)
    response = client.post("/auth/login", data={"email": customer.email, "password": PASSWORD,
                                                "next": next_path, "csrf_token": token})
    assert response.headers["Location"] == landing


def test_pages_need_a_session_and_remember_where_you_were_going(client, app):
    response = client.get("/account/invoices/7")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login?next=/account/invoices/7")


def test_an_htmx_request_after_the_session_ended_sends_the_page_to_sign_in(client, app):
    response = client.get("/account/subscriptions/1", headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/auth/login")


def test_sign_out_ends_the_session(client, app):
    signed_in_customer(client)
    token = csrf_token(client, "/account")
    response = client.post("/auth/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert client.get("/account").status_code == 302
    with client.session_transaction() as session:
        assert "_user_id" not in session


def test_sign_out_is_a_post_with_the_token(client, app):
    signed_in_customer(client)
    assert client.get("/auth/logout").status_code == 405
    assert client.post("/auth/logout").status_code == 400
    assert client.get("/account").status_code == 200


def test_password_change_checks_the_old_one_and_signs_other_devices_out(app):
    customer = make_customer()
    laptop, phone = app.test_client(), app.test_client()
    for device in (laptop, phone):
        assert sign_in(device, customer.email).status_code == 303
    old_laptop_cookie = laptop.get_cookie("session").value

    token = csrf_token(laptop, "/auth/password")
    wrong = laptop.post("/auth/password", data={"current_password": "nope nope", "new_password": "brand new pw",
                                                "new_password_again": "brand new pw", "csrf_token": token},
                        headers={"Accept-Language": "en"})
    assert wrong.status_code == 422 and "not your current password" in wrong.get_data(as_text=True)

    changed = laptop.post("/auth/password", data={"current_password": PASSWORD, "new_password": "brand new pw",
                                                  "new_password_again": "brand new pw", "csrf_token": token})
    assert changed.status_code == 303
    db.session.expire_all()
    assert password_matches(find_by_email(customer.email), "brand new pw")
    assert laptop.get("/account").status_code == 200  # this session goes on
    assert phone.get("/account").status_code == 302  # the other one was signed out
    thief = app.test_client()
    thief.set_cookie("session", old_laptop_cookie)
    assert thief.get("/account").status_code == 302  # this browser's session before the change ended too


def test_staff_guard_sends_strangers_to_sign_in_and_hides_from_customers(test_config, app):
    staff_app = create_app(test_config)

    @staff_app.get("/staff-only")
    @staff_required
    def staff_only():
        return f"hello staff {current_user.id}"

    with staff_app.app_context():
        staff = make_customer(email="boss@example.com")
        staff.role = "staff"
        db.session.commit()
        customer = make_customer(email="someone@example.com")
        staff_id, customer_email = staff.id, customer.email

    client = staff_app.test_client()
    assert client.get("/staff-only").status_code == 302
    assert sign_in(client, customer_email).status_code == 303
    assert client.get("/staff-only").status_code == 404

    staff_client = staff_app.test_client()
    assert sign_in(staff_client, "boss@example.com").status_code == 303
    assert staff_client.get("/staff-only").get_data(as_text=True) == f"hello staff {staff_id}"
