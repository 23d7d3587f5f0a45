"""Who may see the admin pages: staff only. A customer gets 404 on every admin URL and fragment, as if there were
none; an anonymous visitor is sent to sign in; every form needs the CSRF token."""
import pytest
from flask import Flask

from portal.admin import bp
from portal.extensions import db
from portal.models import Payment, StaffAction, WebhookEvent
from tests.factories import make_invoice, make_subscription


def _admin_rules():
    """Every route of the admin blueprint, read from a bare app that registers only it."""
    app = Flask(__name__)
    app.register_blueprint(bp)
    rules = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin."):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            rules.append(pytest.param(rule.rule, rule.arguments, method, id=f"{method} {rule.rule}"))
    return rules


RULES = _admin_rules()
SAMPLE = {"kind": "invoices", "job_id": "some-job"}


def _url(rule, arguments):
    url = rule
    for name in arguments:
        url = url.replace(f"<int:{name}>", "1").replace(f"<{name}>", SAMPLE.get(name, "x"))
    return url


@pytest.fixture
def rows(app):
    """Row 1 of everything an admin URL names, so a 404 is the guard's answer, not a missing row."""
    sub = make_subscription("active")
    invoice = make_invoice(sub, status="paid")
    db.session.add(Payment(provider="sandbox", provider_transaction_id="t-1", invoice_id=invoice.id,
                           customer_id=sub.customer_id, amount=invoice.amount, currency="RUB", status="completed"))
    db.session.add(WebhookEvent(provider="sandbox", kind="pay", transaction_id="t-1", status="processed", body=b"{}"))
    db.session.commit()
    from tests.admin.conftest import make_staff

    staff_user = make_staff("other-staff@example.com")
    db.session.add(StaffAction(staff_user_id=staff_user.id, action="plan.create", target_type="plan", target_id="1",
                               details={}))
    db.session.commit()
    return sub


def test_the_admin_blueprint_has_every_page_of_the_issue():
    paths = {rule.values[0] for rule in RULES}
    for expected in ("/admin/", "/admin/plans", "/admin/customers", "/admin/subscriptions/<int:subscription_id>",
                     "/admin/payments/<int:payment_id>/refund", "/admin/webhooks", "/admin/operations",
                     "/admin/audit", "/admin/export/<kind>.csv"):
        assert expected in paths


@pytest.mark.parametrize("rule, arguments, method", RULES)
def test_a_customer_gets_404_on_every_admin_url(customer_browser, rows, rule, arguments, method):
    url = _url(rule, arguments)
    for htmx in (False, True):
        if method == "GET":
            response = customer_browser.get(url, htmx=htmx)
        else:
            response = customer_browser.post(url, {"confirm": "yes"}, htmx=htmx)
        assert response.status_code == 404, (url, htmx)
        assert "staff" not in response.get_data(as_text=True).lower()


@pytest.mark.parametrize("rule, arguments, method", [r for r in RULES if r.values[2] == "GET"])
def test_staff_open_every_admin_page(staff, rows, rule, arguments, method):
    response = staff.get(_url(rule, arguments))
    # An active subscription owes nothing: the retry confirmation says so with a 409 instead of a form.
    # Likewise a processed notification is not replayed.
    expected = 409 if rule.endswith(("retry-charge", "replay")) else 200
    assert response.status_code == expected, response.get_data(as_text=True)[:2000]
    response.get_data()  # a streamed export is read to its end


@pytest.mark.parametrize("rule, arguments, method", [r for r in RULES if r.values[2] == "GET"])
def test_anonymous_visitors_are_sent_to_sign_in(client, rule, arguments, method):
    url = _url(rule, arguments)
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login?next=")
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith("/auth/login")


def test_signing_in_as_staff_lands_on_the_dashboard(app, client):
    from tests.admin.conftest import make_staff
    from tests.auth.helpers import sign_in

    response = sign_in(client, make_staff().email)
    assert response.headers["Location"] == "/admin/"
    assert "MRR" in client.get("/admin/").get_data(as_text=True)


@pytest.mark.parametrize("rule, arguments, method", [r for r in RULES if r.values[2] == "POST"])
def test_every_admin_form_needs_the_csrf_token(staff, rows, rule, arguments, method):
    before = db.session.query(StaffAction).count()
    response = staff.post(_url(rule, arguments), {"confirm": "yes", "archived": "1"}, token=False)
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.query(StaffAction).count() == before
