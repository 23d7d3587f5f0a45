"""What a browser does through the test client: read the CSRF token from a page, sign up, sign in."""
import re

from tests.factories import make_customer

PASSWORD = "correct horse"  # the factories' password
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client, path="/auth/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = TOKEN.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client, email, password=PASSWORD, **environ):
    token = csrf_token(client)
    return client.post("/auth/login", data={"email": email, "password": password, "csrf_token": token},
                       environ_base=environ)


def signed_in_customer(client, email=None):
    customer = make_customer(email=email)
    response = sign_in(client, customer.email)
    assert response.status_code == 303, response.get_data(as_text=True)
    return customer


def post(client, path, data=None, htmx=False, **kwargs):
    """A form post (or an htmx post with the token in the header, as hx-headers on <body> sends it)."""
    token = csrf_token(client, "/account")
    headers = {"Accept-Language": "en", **kwargs.pop("headers", {})}
    data = dict(data or {})
    if htmx:
        headers.update({"HX-Request": "true", "X-CSRF-Token": token})
    else:
        data["csrf_token"] = token
    return client.post(path, data=data, headers=headers, **kwargs)
