"""Admin fixtures: a signed-in staff member and customer, and real billing flows (sandbox over HTTP, RQ workers)."""
import re

import pytest
from sqlalchemy import event

from portal.accounts import ensure_user
from portal.extensions import db
from tests.auth.helpers import PASSWORD, sign_in
from tests.factories import make_customer
from tests.flows.conftest import billing  # noqa: F401  (whole flows: paid subscriptions, declines, refunds)

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A test client signed in as someone, posting forms the way the admin pages do."""

    def __init__(self, client, user):
        self.client, self.user = client, user
        # The staff pages follow the reader's language (Russian by default): these tests read them in English;
        # tests/admin/test_staff_translation.py reads them in Russian.
        client.environ_base.setdefault("HTTP_ACCEPT_LANGUAGE", "en")

    def token(self) -> str:
        match = TOKEN.search(self.client.get("/admin/audit").get_data(as_text=True)) or \
            TOKEN.search(self.client.get("/auth/login").get_data(as_text=True))
        assert match, "no CSRF token on the page"
        return match.group(1)

    def get(self, path, htmx=False, **kwargs):
        headers = {"HX-Request": "true"} if htmx else {}
        return self.client.get(path, headers=headers, **kwargs)

    def post(self, path, data=None, htmx=False, token=True, **kwargs):
        data = dict(data or {})
        headers = {}
        if token and htmx:
            headers["X-CSRF-Token"] = self.token()
        elif token:
            data["csrf_token"] = self.token()
        if htmx:
            headers["HX-Request"] = "true"
        return self.client.post(path, data=data, headers=headers, **kwargs)


def make_staff(email="staff@example.com"):
    user, _ = ensure_user(email, password=PASSWORD, role="staff")
    db.session.commit()
    return user


@pytest.fixture
def staff(app, client):
    user = make_staff()
    response = sign_in(client, user.email, REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 303, response.get_data(as_text=True)
    client.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    return Browser(client, user)


@pytest.fixture
def customer_browser(app):
    client = app.test_client()
    user = make_customer()
    assert sign_in(client, user.email).status_code == 303
    return Browser(client, user)


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, *args, **kwargs):
        self.count += 1


@pytest.fixture
def count_queries(app):
    """count_queries(fn) → how many SQL statements fn issued."""

    def run(fn):
        counter = QueryCounter()
        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            fn()
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)
        return counter.count

    return run
