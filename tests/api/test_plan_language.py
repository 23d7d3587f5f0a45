"""A plan in an API answer is named in the language asked for (?lang=, else Accept-Language, else Russian), and the
answer says which."""
from tests.factories import make_customer, make_plan, make_subscription


def test_a_subscriptions_plan_is_named_in_the_language_asked_for(api, app):
    plan = make_plan("basic", amount=30000, name_ru="Базовая", name_en="Basic")
    sub = make_subscription("active", plan=plan, customer=make_customer())

    russian = api.get(f"/api/v1/subscriptions/{sub.id}")
    assert russian.get_json()["plan"]["name"] == "Базовая" and russian.headers["Content-Language"] == "ru"
    english = api.get(f"/api/v1/subscriptions/{sub.id}", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert english.get_json()["plan"]["name"] == "Basic" and english.headers["Content-Language"] == "en"
    chosen = api.get(f"/api/v1/subscriptions/{sub.id}?lang=ru", headers={"Accept-Language": "en"})
    assert chosen.get_json()["plan"]["name"] == "Базовая" and chosen.headers["Content-Language"] == "ru"
