"""Browser-facing protections: CSRF on forms and htmx, security headers, cookie flags, login throttling,
and the language switch."""
import pytest

from portal.security import content_security_policy, session_cookie_secure
from tests.auth.helpers import PASSWORD, sign_in, signed_in_customer
from tests.factories import make_customer, make_plan, make_subscription

# --- CSRF ------------------------------------------------------------------------------------------------


def test_a_form_without_the_token_is_refused_with_a_message(client, app):
    customer = make_customer()
    response = client.post("/auth/login", data={"email": customer.email, "password": PASSWORD},
                           headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert "not sent from this site" in response.get_data(as_text=True)
    assert client.get("/account").status_code == 302  # not signed in


def test_an_htmx_request_needs_the_token_header(client, app):
    sub = make_subscription(status="active", customer=signed_in_customer(client))
    path = f"/account/subscriptions/{sub.id}/auto-renew"
    refused = client.post(path, data={"auto_renew": "off"}, headers={"HX-Request": "true", "X-CSRF-Token": "forged"})
    assert refused.status_code == 400
    assert 'id="error"' in refused.get_data(as_text=True) and "<html" not in refused.get_data(as_text=True)


def test_the_page_carries_the_token_for_htmx_in_hx_headers(client, app):
    page = client.get("/").get_data(as_text=True)
    with client.session_transaction() as session:
        token = session["csrf_token"]
    assert f'hx-headers=\'{{"X-CSRF-Token": "{token}"}}\'' in page


def test_webhooks_and_the_json_api_are_not_asked_for_a_token(client, app):
    # They authenticate otherwise: a signature, a bearer token. Their own refusals come back, not CSRF's.
    webhook = client.post("/webhooks/cloudpayments/pay", data={"InvoiceId": "1"})
    assert webhook.status_code != 400 or "not sent from this site" not in webhook.get_data(as_text=True)
    api = client.post("/api/v1/pay", json={})
    assert api.status_code == 401 and api.mimetype == "application/problem+json"


def test_the_json_api_and_webhooks_neither_read_nor_renew_a_browser_session(client, app):
    # A signed-in browser's cookie sent along to a machine path is not unsigned, and not re-signed: those
    # paths authenticate each request by itself, and are the hottest (bench/README.md).
    signed_in_customer(client)
    page = client.get("/account")
    assert page.status_code == 200 and "session=" in page.headers.get("Set-Cookie", "")

    api = client.get("/api/v1/customers/nobody/entitlement")
    webhook = client.post("/webhooks/cloudpayments/pay", data={"InvoiceId": "1"})

    assert api.status_code == 401 and webhook.status_code != 200
    assert "Set-Cookie" not in api.headers and "Set-Cookie" not in webhook.headers
    assert client.get("/account").status_code == 200  # the browser's session is untouched


# --- headers and cookies ---------------------------------------------------------------------------------


def test_html_responses_carry_the_security_headers(client, app):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "object-src 'none'" in csp
    assert "unsafe-eval" not in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain http here


def test_hsts_is_sent_over_https(client, app):
    response = client.get("/", base_url="https://portal.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_error_pages_carry_the_headers_too(client, app):
    response = client.get("/no-such-page", headers={"Accept-Language": "en"})
    assert response.status_code == 404 and "Content-Security-Policy" in response.headers
    assert "There is nothing here" in response.get_data(as_text=True)


def test_api_errors_stay_problem_documents(client, app):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response.mimetype == "application/problem+json"


def test_the_csp_allows_the_widget_origin_only_where_the_widget_is(client, app):
    csp = content_security_policy("https://widget.cloudpayments.ru")
    assert "script-src 'self' https://widget.cloudpayments.ru;" in csp
    assert "connect-src 'self' https://widget.cloudpayments.ru;" in csp
    assert "frame-src 'self' https://widget.cloudpayments.ru;" in csp
    assert "widget.cloudpayments.ru" not in client.get("/").headers["Content-Security-Policy"]


def test_signed_in_pages_are_not_cached(client, app):
    signed_in_customer(client)
    assert client.get("/account").headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("config,env,secure", [
    ({"EMBEDDED": False, "TESTING": False}, {}, True),
    ({"EMBEDDED": True, "TESTING": False}, {}, False),
    ({"EMBEDDED": False, "TESTING": True}, {}, False),
    ({"EMBEDDED": True}, {"SESSION_COOKIE_SECURE": "1"}, True),
    ({"EMBEDDED": False}, {"SESSION_COOKIE_SECURE": "false"}, False),
])
def test_session_cookie_is_secure_unless_embedded_or_told_otherwise(config, env, secure):
    assert session_cookie_secure(config, env) is secure


def test_the_session_cookie_is_secure_where_configured(test_config, app, monkeypatch):
    from portal import create_app

    monkeypatch.setenv("SESSION_COOKIE_SECURE", "1")
    secure_app = create_app(test_config)
    cookies = secure_app.test_client().get("/").headers.getlist("Set-Cookie")
    cookie = next(c for c in cookies if c.startswith("session="))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


# --- login throttling ------------------------------------------------------------------------------------


def _fail(client, email, address):
    return sign_in(client, email, "wrong password", REMOTE_ADDR=address)


def test_failed_logins_are_throttled_per_account_without_locking_out_others(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS", "3 per minute")
    victim, other = make_customer(), make_customer()
    for _ in range(3):
        assert _fail(client, victim.email, "203.0.113.5").status_code == 422
    blocked = sign_in(client, victim.email, PASSWORD, REMOTE_ADDR="203.0.113.5", HTTP_ACCEPT_LANGUAGE="en")
    assert blocked.status_code == 429 and "Too many attempts" in blocked.get_data(as_text=True)
    assert blocked.headers["Retry-After"]

    # Another account from the same address, and the owner from their own address, still get in.
    assert sign_in(app.test_client(), other.email, PASSWORD, REMOTE_ADDR="203.0.113.5").status_code == 303
    assert sign_in(app.test_client(), victim.email, PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 303


def test_failed_logins_are_throttled_per_address(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ADDRESS", "4 per minute")
    for n in range(4):
        assert _fail(client, f"guess{n}@example.com", "203.0.113.9").status_code == 422
    assert _fail(client, "guess9@example.com", "203.0.113.9").status_code == 429
    someone = make_customer()
    assert sign_in(app.test_client(), someone.email, PASSWORD, REMOTE_ADDR="198.51.100.8").status_code == 303


def test_successful_logins_do_not_count(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS", "2 per minute")
    customer = make_customer()
    for _ in range(4):
        assert sign_in(app.test_client(), customer.email, PASSWORD, REMOTE_ADDR="203.0.113.20").status_code == 303


# --- language --------------------------------------------------------------------------------------------


def test_language_follows_accept_language(client, app):
    make_plan(code="monthly")
    assert "Тарифы" in client.get("/", headers={"Accept-Language": "ru-RU,ru"}).get_data(as_text=True)
    assert "Plans and prices" in client.get("/", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)


def test_the_language_switch_sticks_over_accept_language(client, app):
    make_plan(code="monthly")
    response = client.get("/locale/en?next=/account/invoices/3")
    assert response.status_code == 303 and response.headers["Location"] == "/account/invoices/3"
    assert "locale=en" in response.headers["Set-Cookie"]
    page = client.get("/", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert '<html lang="en">' in page and "Plans and prices" in page and "RUB" in page

    client.get("/locale/ru?next=/")
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="ru">' in page and "Тарифы" in page and "₽" in page


def test_the_language_switch_ignores_unknown_languages_and_foreign_targets(client, app):
    response = client.get("/locale/xx?next=https://evil.example/")
    assert response.headers["Location"] == "/" and "Set-Cookie" not in response.headers
