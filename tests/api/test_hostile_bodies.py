"""Bodies no JSON API endpoint can take: each a 400 problem naming why, never a 500, nothing stored."""
import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import User
from tests.api.conftest import PROBLEM
from tests.api.test_pay import PAY, basic  # noqa: F401  (fixture)


@pytest.mark.parametrize("raw", [
    b'{"plan": "basic", "customer": {"external_id": "\\ud800", "email": "a@example.com"}}',
    b'{"plan": "\\udfff\\ud800"}',
    b'{"plan": "basic", "customer": {"external_id": "x", "email": "a@example.com", "name": "\\udfff"}}',
    b'{"\\ud800": 1}',
    b"[" * 5000 + b"]" * 5000,
    b'{"plan": "basic", "customer": {"external_id": "x", "email": "\xff@example.com"}}',
], ids=["surrogate-in-external-id", "reversed-pair", "surrogate-in-name", "surrogate-key", "nested-5000-deep",
        "invalid-utf8"])
def test_lone_surrogates_deep_nesting_and_invalid_utf8_are_a_400_problem(api, basic, raw):  # noqa: F811
    response = api.post(PAY, data=raw, headers={"Content-Type": "application/json", "Idempotency-Key": "hostile-1"})
    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
