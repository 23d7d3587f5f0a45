"""Edge hygiene (finding 7 of issue 14): an invalid `next` is ignored, an untrusted Host is refused and never
reflected, billing data is never cached, the JSON API answers broken text with a 400 problem, and its
OpenAPI document states exactly the Idempotency-Key the server takes."""
import re

import pytest
from jsonschema import Draft202012Validator

from portal import create_app
from tests.api.conftest import CATALOG_TOKEN
from tests.auth.helpers import PASSWORD, csrf_token, signed_in_customer
from tests.factories import make_customer, make_plan

HEADER_SPLIT = "/%0d%0aSet-Cookie:%20planted=1"

# --- next ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [HEADER_SPLIT, "/%0aLocation:%20https://evil.example", "/%00", "/a%09b",
                                    "/%20//evil.example"])
def test_the_language_switch_ignores_a_next_that_is_no_url(client, app, target):
    response = client.get(f"/locale/en?next={target}")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert not any("planted" in cookie for cookie in response.headers.getlist("Set-Cookie"))


def test_sign_in_ignores_a_next_that_is_no_url(client, app):
    customer = make_customer()
    page = client.get(f"/auth/login?next={HEADER_SPLIT}")
    assert page.status_code == 200
    response = client.post("/auth/login", data={"email": customer.email, "password": PASSWORD,
                                                "next": "/\r\nSet-Cookie: planted=1",
                                                "csrf_token": csrf_token(client)})
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert not any("planted" in cookie for cookie in response.headers.getlist("Set-Cookie"))


def test_a_next_beyond_ascii_is_kept_percent_encoded(client, app):
    response = client.get("/locale/en?next=/%D1%84%D0%B8%D0%BB%D1%8C%D0%BC")
    assert response.headers["Location"] == "/%D1%84%D0%B8%D0%BB%D1%8C%D0%BC"


# --- Host ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path,method", [("/admin", "GET"), ("/", "GET"), ("/auth/login", "POST"),
                                         ("/api/v1/pay", "POST")])
def test_an_untrusted_host_is_refused_and_never_reflected(client, app, path, method):
    response = client.open(path, method=method, headers={"Host": "evil.com"})
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "evil.com" not in response.get_data(as_text=True)


def test_the_trusted_host_still_gets_its_redirects(client, app):
    response = client.get("/admin", headers={"Host": "localhost"})
    assert response.status_code == 308 and response.headers["Location"] == "http://localhost/admin/"


def test_a_configured_deployment_names_its_hosts(test_config):
    from portal.config import ConfigurationError

    with pytest.raises(ConfigurationError, match="TRUSTED_HOSTS must be set"):
        create_app({**test_config, "TRUSTED_HOSTS": None})


# --- caching ---------------------------------------------------------------------------------------------


def test_api_answers_are_not_stored_by_caches(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "API_TOKENS", f"catalog:{CATALOG_TOKEN}:read+write")
    auth = {"Authorization": f"Bearer {CATALOG_TOKEN}"}
    make_customer(external_id="auth-1")
    for response in (client.get("/api/v1/customers/auth-1/subscriptions", headers=auth),
                     client.get("/api/v1/subscriptions/999", headers=auth),
                     client.get("/api/v1/customers/auth-1/entitlement", headers=auth),  # a refusal
                     client.post("/api/v1/pay", json={}, headers=auth),
                     client.get("/api/v1/subscriptions/1")):
        assert response.headers["Cache-Control"] == "no-store", response.request.path


def test_account_pages_admin_pages_and_exports_are_not_stored_by_caches(app):
    from tests.admin.conftest import make_staff
    from tests.auth.helpers import sign_in

    customer = app.test_client()
    signed_in_customer(customer)
    assert customer.get("/account").headers["Cache-Control"] == "no-store"
    assert customer.get("/auth/password").headers["Cache-Control"] == "no-store"

    staff = app.test_client()
    assert sign_in(staff, make_staff().email).status_code == 303
    for path in ("/admin/", "/admin/export/payments.csv", "/admin/export/invoices.csv"):
        response = staff.get(path)
        response.get_data()  # an export streams: read it whole before the next request
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store", path


def test_the_catalogue_and_static_files_stay_cacheable(client, app):
    make_plan(code="monthly")
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")
    assert "no-store" not in client.get("/static/portal.css").headers.get("Cache-Control", "")


# --- API text --------------------------------------------------------------------------------------------


@pytest.fixture
def api_client(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "API_TOKENS", f"catalog:{CATALOG_TOKEN}:read+write")
    make_plan(code="basic")
    return client


def _pay(client, raw: bytes, key=None):
    headers = {"Authorization": f"Bearer {CATALOG_TOKEN}", "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/api/v1/pay", data=raw, headers=headers)


@pytest.mark.parametrize("raw,where", [
    (b'{"customer": {"external_id": "x-1", "email": "a@example.com", "name": "\\ud800"}, "plan": "basic"}',
     "/customer/name"),
    (b'{"customer": {"external_id": "\\udfff", "email": "a@example.com"}, "plan": "basic"}', "/customer/external_id"),
    (b'{"customer": {"external_id": "x-1", "email": "a@example.com"}, "plan": "basic", "\\ud800": 1}', "/"),
])
def test_a_lone_surrogate_is_a_400_problem_naming_where(api_client, raw, where):
    response = _pay(api_client, raw)
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert f"at {where} holds a lone surrogate" in response.get_json()["detail"]


def test_a_surrogate_pair_is_a_character_like_any_other(api_client):
    raw = b'{"customer": {"external_id": "x-1", "email": "a@example.com", "name": "\\ud83c\\udfac"}, "plan": "basic"}'
    response = _pay(api_client, raw)
    assert response.status_code == 201, response.get_data(as_text=True)


@pytest.mark.parametrize("raw", [b'{"plan": "\xff"}', b'{"plan": "\xed\xa0\x80"}'])  # not UTF-8; CESU surrogate
def test_a_body_that_is_not_utf8_is_a_400_problem(api_client, raw):
    response = _pay(api_client, raw)
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert "not UTF-8" in response.get_json()["detail"]


# --- Idempotency-Key: the document and the server agree ---------------------------------------------------


@pytest.mark.parametrize("key", ["k", "a" * 255, "a b", "~!@#$%^&*()", "550e8400-e29b-41d4-a716-446655440000",
                                 "", " ", " lead", "trail ", "a" * 256, "tab\there", "ключ", "nul\x00", "del\x7f"])
def test_the_idempotency_key_the_document_admits_is_exactly_the_one_the_server_takes(api_client, key):
    document = api_client.get("/api/v1/openapi.json").get_json()
    schema = document["components"]["parameters"]["IdempotencyKey"]["schema"]
    admitted = Draft202012Validator(schema).is_valid(key)
    body = b'{"customer": {"external_id": "x-1", "email": "a@example.com"}, "plan": "basic"}'
    try:
        response = _pay(api_client, body, key=key)
    except ValueError:  # the test client itself refuses a header with a control character: HTTP would too
        assert not admitted
        return
    taken = response.status_code != 400
    assert admitted == taken, (key, response.get_json())
    if not taken:
        assert re.search("Idempotency-Key must be", response.get_json()["detail"])
