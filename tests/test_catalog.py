"""The plan page lists what is on sale, priced for the reader's language."""
import pytest

from portal.catalog.service import ensure_demo_catalogue
from portal.extensions import db
from tests.factories import make_plan


@pytest.fixture
def demo_catalogue(app):
    ensure_demo_catalogue()
    db.session.commit()


@pytest.mark.parametrize("language,prices", [
    ("ru", ["299,00\xa0₽", "2\xa0990,00\xa0₽", "599,00\xa0₽"]),
    ("en", ["RUB\xa0299.00", "RUB\xa02,990.00", "RUB\xa0599.00"]),
])
def test_plans_are_listed_with_prices_for_the_language(client, demo_catalogue, language, prices):
    page = client.get("/", headers={"Accept-Language": language}).get_data(as_text=True)
    for price in prices:
        assert price.replace("\xa0", " ") in page.replace("\xa0", " ")
    assert 'id="plan-premium"' in page
    assert ("7 дней бесплатно" if language == "ru" else "7 days free") in page


def test_archived_plans_are_not_on_sale(client, app):
    make_plan(code="legacy", status="archived")
    make_plan(code="current")
    page = client.get("/").get_data(as_text=True)
    assert 'id="plan-current"' in page and 'id="plan-legacy"' not in page


def test_empty_catalogue_says_so(client, app):
    assert "No plans are on sale yet." in client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)


def test_seed_demo_is_idempotent_and_prints_logins(runner, app):
    first = runner.invoke(args=["seed-demo"])
    second = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "customer@demo.cinema" in first.output and "staff@demo.cinema" in first.output
    from portal.models import Plan, User

    assert sorted(p.code for p in db.session.query(Plan)) == ["monthly", "premium", "yearly"]
    assert db.session.query(User).count() == 2
    assert {u.role for u in db.session.query(User)} == {"customer", "staff"}


def test_create_user_makes_a_staff_account_once(runner, app):
    from portal.accounts import find_by_email, password_matches

    result = runner.invoke(args=["create-user", "Boss@Example.com", "--staff", "--password", "long enough pw"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(args=["create-user", "boss@example.com", "--staff"])
    assert "already exists" in again.output
    user = find_by_email("boss@example.com")
    assert user.role == "staff" and password_matches(user, "long enough pw")


def test_create_user_rejects_a_bad_email(runner, app):
    result = runner.invoke(args=["create-user", "not-an-email"])
    assert result.exit_code != 0 and "not an email address" in result.output


@pytest.mark.parametrize("language,names,foreign", [
    ("ru", ["Месячная", "Годовая", "Премиум"], ["Monthly", "Yearly", "Premium"]),
    ("en", ["Monthly", "Yearly", "Premium"], ["Месячная", "Годовая", "Премиум"]),
])
def test_plans_are_named_in_the_readers_language_and_in_no_other(client, demo_catalogue, language, names, foreign):
    page = client.get("/", headers={"Accept-Language": language}).get_data(as_text=True)
    for name in names:
        assert f"<h2>{name}</h2>" in page
    for name in foreign:
        assert name not in page
