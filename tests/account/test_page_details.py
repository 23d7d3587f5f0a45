"""Small things a customer notices: the addresses people type, the plan kept through sign-up, the yearly plan in
monthly terms, the first charge after a trial named for what it is, and an empty history that says what comes."""
from datetime import timedelta

from portal.extensions import db
from tests.auth.helpers import signed_in_customer
from tests.factories import make_invoice, make_plan, make_subscription


def page(client, path):
    return client.get(path, headers={"Accept-Language": "en"})


def test_login_and_signup_are_addresses_that_lead_to_the_real_pages(client, app):
    for short, real in (("/login", "/auth/login"), ("/signup", "/auth/signup")):
        response = page(client, f"{short}?next=/account/checkout/premium")
        assert response.status_code == 301
        assert response.headers["Location"] == f"{real}?next=/account/checkout/premium"


def test_the_header_sign_up_keeps_the_plan_the_visitor_chose(client, app):
    make_plan(code="premium", amount=59900)
    to_sign_in = page(client, "/account/checkout/premium")
    assert to_sign_in.status_code == 302
    login = page(client, to_sign_in.headers["Location"]).get_data(as_text=True)
    assert 'id="header-signup" href="/auth/signup?next=/account/checkout/premium"' in login
    plain = page(client, "/").get_data(as_text=True)
    assert 'id="header-signup" href="/auth/signup"' in plain


def test_a_yearly_plan_shows_its_price_a_month_and_what_it_saves(client, app):
    make_plan(code="monthly", amount=29900)
    make_plan(code="premium", amount=59900)
    make_plan(code="yearly", amount=299000, interval_unit="year")
    html = page(client, "/").get_data(as_text=True)
    # 2990.00 / 12 = 249.166… → 249.17; against Monthly's 3588.00 a year: 598.00 less, 16.67 % → 16 %.
    assert 'id="plan-yearly-per-month">RUB 249.17 a month · 16% less than Monthly<' in html
    assert 'id="plan-monthly-per-month"' not in html


def test_the_charge_at_the_end_of_a_trial_is_the_first_payment_and_card_checks_are_no_invoices(client, app):
    customer = signed_in_customer(client)
    sub = make_subscription("trialing", customer=customer, period_days=7)
    sub.trial_end = sub.current_period_end
    make_invoice(sub, kind="verification", status="void", amount=100)
    html = page(client, "/account").get_data(as_text=True)
    assert "the first one comes when your free trial ends" in html and "Card check" not in html

    first = make_invoice(sub, kind="renewal", status="paid")
    first.period_start, first.period_end = sub.trial_end, sub.trial_end + timedelta(days=30)
    db.session.commit()
    html = page(client, "/account").get_data(as_text=True)
    assert "First payment after the trial" in html and "Renewal" not in html


def test_payment_times_are_in_the_customer_s_zone_and_say_which(client, app):
    from datetime import UTC, datetime

    from portal.models import Payment

    customer = signed_in_customer(client)
    sub = make_subscription("active", customer=customer)
    invoice = make_invoice(sub, status="paid")
    db.session.add(Payment(provider="cloudpayments", provider_transaction_id="tz-1", invoice_id=invoice.id,
                           customer_id=customer.id, amount=invoice.amount, currency="RUB", status="completed",
                           created_at=datetime(2026, 12, 6, 21, 53, tzinfo=UTC)))
    db.session.commit()
    # Paid at 00:53 on 7 December in Moscow, which is 21:53 on the 6th in UTC.
    ru = client.get("/account", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "7 декабря 2026, 00:53 (мск)" in ru
    customer.time_zone = "Asia/Yekaterinburg"
    db.session.commit()
    en = page(client, "/account").get_data(as_text=True)
    assert "December 7, 2026, 02:53 (GMT+05:00)" in en


def test_without_javascript_the_pay_page_says_the_widget_needs_it(client, app):
    from tests.account.support import start_checkout

    make_plan(code="monthly")
    signed_in_customer(client)
    _, _, pay_page = start_checkout(client, "monthly")
    html = pay_page.get_data(as_text=True)
    assert '<noscript><p class="alert alert-error" id="widget-needs-javascript">' in html
