"""Operations fixtures: whole flows (sandbox over HTTP, RQ workers), a signed-in staff member, API tokens."""
import pytest

from tests.admin.conftest import staff  # noqa: F401  (a signed-in staff member posting the admin forms)
from tests.admin.test_browser import chromium  # noqa: F401  (Debian's Chromium under Playwright)
from tests.flows.conftest import billing  # noqa: F401  (whole flows: paid subscriptions, declines)

OPS_TOKEN = "ops-tests-secret-token"


@pytest.fixture
def api_token(app, monkeypatch):
    monkeypatch.setitem(app.config, "API_TOKENS", f"qa:{OPS_TOKEN}:read+write")
    return {"Authorization": f"Bearer {OPS_TOKEN}"}
