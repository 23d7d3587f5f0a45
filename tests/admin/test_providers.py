"""Staff choose the payment provider of new checkouts per currency; the choice is audited, and only an
enabled provider can be chosen."""
from sqlalchemy import select

from portal.billing.provider_choice import default_provider
from portal.extensions import db
from portal.models import ProviderDefault, StaffAction
from tests.factories import make_plan


def test_staff_switch_the_default_provider_of_a_currency_and_it_is_audited(staff):
    make_plan(code="monthly", currency="RUB")
    page = staff.get("/admin/providers").get_data(as_text=True)
    assert 'id="currency-RUB"' in page and "(first enabled)" in page
    assert default_provider("RUB").name == "cloudpayments"

    response = staff.post("/admin/providers/RUB", {"provider": "yookassa"})
    assert response.status_code == 303
    db.session.expire_all()
    assert default_provider("RUB").name == "yookassa"
    [action] = db.session.scalars(select(StaffAction)).all()
    assert (action.action, action.target_id, action.details, action.remote_addr) == (
        "provider.set_default", "RUB", {"provider": "yookassa", "before": None}, "203.0.113.7")
    assert db.session.get(ProviderDefault, "RUB").changed_by == f"staff:{staff.user.id}"

    staff.post("/admin/providers/RUB", {"provider": "cloudpayments"})
    db.session.expire_all()
    assert default_provider("RUB").name == "cloudpayments"
    assert db.session.scalars(select(StaffAction).order_by(StaffAction.id.desc())).first().details == {
        "provider": "cloudpayments", "before": "yookassa"}


def test_a_provider_that_is_not_enabled_cannot_be_chosen(staff):
    make_plan(code="monthly", currency="RUB")
    response = staff.post("/admin/providers/RUB", {"provider": "paypal"}, follow_redirects=True)
    assert "is not an enabled payment provider" in response.get_data(as_text=True)
    assert db.session.scalars(select(ProviderDefault)).all() == []
    assert db.session.scalars(select(StaffAction)).all() == []


def test_the_pay_page_opens_the_widget_of_the_currency_default(billing, live, customer_browser):
    import requests

    from portal.billing.provider_choice import set_default_provider

    requests.post(f"{live.yookassa_url}/_control/reset", timeout=5).raise_for_status()
    make_plan(code="monthly", currency="RUB")
    set_default_provider("RUB", "yookassa", actor="staff:test")
    db.session.commit()
    response = customer_browser.post("/account/checkout", {"plan": "monthly"})
    page = customer_browser.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-provider="yookassa"' in page
    assert f'src="{live.yookassa_url}/widget.js"' in page
    assert '"confirmation_token": "ct-' in page
