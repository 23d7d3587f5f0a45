"""Change plan on the customer's pages: the catalogue offers "Switch to X", the account page previews the
proration before confirming, an upgrade is charged on the saved card (or paid on the pay page), and a
downgrade is shown as scheduled and can be undone."""
import re
from datetime import timedelta

from portal import clock
from portal.extensions import db
from portal.models import Invoice, Subscription
from tests.account.support import fragment, subscribe
from tests.auth.helpers import post, signed_in_customer
from tests.dates import english_day
from tests.factories import make_plan
from tests.flows.conftest import LATER_DECLINED_CARD


def page(client, path):
    return client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)


def reload(sub):
    db.session.expire_all()
    return db.session.get(Subscription, sub.id)


def test_catalogue_offers_switching_to_another_plan_instead_of_cancelling_first(client, billing):
    make_plan(code="monthly", amount=29900)
    make_plan(code="premium", amount=49900)
    signed_in_customer(client)
    sub, _, _ = subscribe(client, billing, "monthly")

    html = page(client, "/")
    assert "To switch, cancel your current plan first" not in html
    link = re.search(r'<a class="button primary" id="switch-premium" href="([^"]+)">Switch to Premium</a>', html)
    assert link and link.group(1) == f"/account/subscriptions/{sub.id}/change-plan?plan=premium"


def test_upgrade_preview_shows_the_prorated_amount_and_confirming_charges_the_saved_card(client, billing):
    make_plan(code="monthly", amount=29900)
    make_plan(code="premium", amount=49900)
    signed_in_customer(client)
    sub, _, _ = subscribe(client, billing, "monthly")
    clock.freeze(sub.current_period_start + timedelta(days=10, hours=3))
    days = (sub.current_period_end - sub.current_period_start).days
    unused = days - 11
    amount = (2 * 20000 * unused + days) // (2 * days)

    preview = page(client, f"/account/subscriptions/{sub.id}/change-plan?plan=premium")
    shown = f"RUB {amount // 100}.{amount % 100:02d}"
    assert f'<strong id="proration-amount">{shown}</strong>' in preview
    assert f"the difference for the {unused} unused days of this period" in preview
    assert f"Pay {shown} and switch" in preview
    assert reload(sub).plan.code == "monthly"  # a preview changes nothing

    response = post(client, f"/account/subscriptions/{sub.id}/change-plan", {"plan": "premium"}, htmx=True)
    assert response.status_code == 200
    assert "Charging your card" in response.get_data(as_text=True)
    billing.work()
    sub = reload(sub)
    assert (sub.plan.code, sub.amount) == ("premium", 49900)
    [invoice] = [i for i in sub.invoices if i.kind == "proration"]
    assert (invoice.status, invoice.amount) == ("paid", amount)
    assert "Plan change" in fragment(client, "/account/history").get_data(as_text=True)


def test_a_declined_upgrade_is_offered_on_the_pay_page(client, billing):
    make_plan(code="monthly", amount=29900)
    make_plan(code="premium", amount=49900)
    signed_in_customer(client)
    sub, _, _ = subscribe(client, billing, "monthly", card=LATER_DECLINED_CARD)

    post(client, f"/account/subscriptions/{sub.id}/change-plan", {"plan": "premium"}, htmx=True)
    billing.work()
    [invoice] = db.session.query(Invoice).filter_by(subscription_id=sub.id, kind="proration").all()
    html = page(client, "/account")
    assert 'id="upgrade-due"' in html and "Your card was declined." in html
    assert f'href="/account/pay/{invoice.id}"' in html
    pay_page = client.get(f"/account/pay/{invoice.id}", headers={"Accept-Language": "en"})
    assert pay_page.status_code == 200 and 'id="pay-button"' in pay_page.get_data(as_text=True)
    assert reload(sub).plan.code == "monthly"


def test_downgrade_is_scheduled_shown_with_its_date_and_undone(client, billing):
    make_plan(code="monthly", amount=29900)
    make_plan(code="premium", amount=49900)
    signed_in_customer(client)
    sub, _, _ = subscribe(client, billing, "premium")

    preview = page(client, f"/account/subscriptions/{sub.id}/change-plan?plan=monthly")
    assert "nothing is charged today" in preview and 'id="confirm-plan-change"' in preview

    response = post(client, f"/account/subscriptions/{sub.id}/change-plan", {"plan": "monthly"}, htmx=True)
    assert response.status_code == 200
    billing.work()
    assert reload(sub).scheduled_plan.code == "monthly"
    html = page(client, "/account")
    end = reload(sub).current_period_end
    assert f"Changes to Monthly on {english_day(end)}." in html
    assert "RUB 299.00 on" in html  # the next charge is the new plan's price

    post(client, f"/account/subscriptions/{sub.id}/change-plan/undo", htmx=True)
    billing.work()
    assert reload(sub).scheduled_plan_id is None
    assert 'id="scheduled-change"' not in page(client, "/account")


def test_a_change_that_cannot_be_made_says_why_on_the_preview(client, billing):
    make_plan(code="monthly", amount=29900)
    make_plan(code="dollars", amount=999, currency="USD")
    signed_in_customer(client)
    sub, _, _ = subscribe(client, billing, "monthly")

    html = page(client, f"/account/subscriptions/{sub.id}/change-plan?plan=dollars")
    assert 'id="change-plan-refused"' in html and "billed in USD" in html
    assert 'id="confirm-plan-change"' not in html
    russian = client.get(f"/account/subscriptions/{sub.id}/change-plan?plan=dollars",
                         headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "оплачивается в USD, а подписка — в RUB" in russian and "billed in" not in russian
    assert client.get(f"/account/subscriptions/{sub.id}/change-plan?plan=nope").status_code == 404


def test_without_scripts_confirming_an_upgrade_without_a_saved_card_opens_the_pay_page(client, billing):
    make_plan(code="monthly", amount=29900)
    make_plan(code="premium", amount=49900)
    signed_in_customer(client)
    sub, _, _ = subscribe(client, billing, "monthly")
    with db.session.begin_nested():
        db.session.get(Subscription, sub.id).payment_method_id = None
    db.session.commit()

    response = post(client, f"/account/subscriptions/{sub.id}/change-plan", {"plan": "premium"})

    assert response.status_code == 303
    [invoice] = db.session.query(Invoice).filter_by(subscription_id=sub.id, kind="proration").all()
    assert response.headers["Location"] == f"/account/pay/{invoice.id}"
    again = post(client, f"/account/subscriptions/{sub.id}/change-plan", {"plan": "premium"})
    assert again.headers["Location"] == f"/account/pay/{invoice.id}"  # asked again: the same open invoice
    assert db.session.query(Invoice).filter_by(subscription_id=sub.id, kind="proration").count() == 1
