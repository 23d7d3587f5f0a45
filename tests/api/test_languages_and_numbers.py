"""The API names plans in the language asked for (?lang=, else Accept-Language, else Russian) and gives
invoices their number beside their id."""
import pytest

from portal.extensions import db
from portal.models import Invoice
from tests.factories import make_customer, make_plan, make_subscription


@pytest.fixture
def family(app):
    plan = make_plan("family", name_ru="Семейная", name_en="Family")
    plan.description_ru, plan.description_en = "Четыре экрана", "Four screens"
    db.session.commit()
    return plan


@pytest.mark.parametrize(("query", "headers", "language", "name", "description"), [
    ("?lang=en", {}, "en", "Family", "Four screens"),
    ("?lang=ru", {"Accept-Language": "en"}, "ru", "Семейная", "Четыре экрана"),  # lang wins over the header
    ("", {"Accept-Language": "en-GB,en;q=0.9"}, "en", "Family", "Four screens"),
    ("", {}, "ru", "Семейная", "Четыре экрана"),
    ("?lang=de", {}, "ru", "Семейная", "Четыре экрана"),  # unknown: ignored
])
def test_a_plan_is_named_in_the_language_asked_for(api, family, query, headers, language, name, description):
    sub = make_subscription("active", plan=family, customer=make_customer(external_id="auth-9"))
    response = api.get(f"/api/v1/subscriptions/{sub.id}{query}", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["plan"] == {"code": "family", "name": name, "description": description}
    assert response.headers["Content-Language"] == language and "Accept-Language" in response.headers["Vary"]


def test_a_checkout_answers_with_the_invoice_number_and_its_id(api, family):
    response = api.post("/api/v1/pay?lang=en", json={"plan": "family",
                                                     "customer": {"external_id": "auth-1", "email": "a@example.com"}})
    assert response.status_code == 201
    body = response.get_json()
    invoice = db.session.get(Invoice, body["invoice"]["id"])
    assert body["invoice"]["number"] == invoice.number and invoice.number.endswith("-000001")
    assert body["subscription"]["plan"]["name"] == "Family"


def test_the_openapi_document_describes_the_language_and_the_number(api):
    document = api.get("/api/v1/openapi.json").get_json()
    assert document["components"]["parameters"]["Lang"]["schema"] == {"enum": ["ru", "en"]}
    assert "number" in document["components"]["schemas"]["Invoice"]["required"]
    get = document["paths"]["/subscriptions/{subscription_id}"]["get"]
    assert {"$ref": "#/components/parameters/Lang"} in get["parameters"]
