"""What the customer reads: invoices by their number (never the database id), plans by their name in the
page's language."""
import re

from tests.account.support import start_checkout
from tests.auth.helpers import signed_in_customer
from tests.factories import make_invoice, make_plan, make_subscription

SCRIPTS = re.compile(r"<script.*?</script>", re.S)  # the widget's parameters are for the provider, not read


def read(client, path, language):
    return SCRIPTS.sub("", client.get(path, headers={"Accept-Language": language}).get_data(as_text=True))


def test_the_customer_reads_invoice_numbers_not_ids(client, app):
    customer = signed_in_customer(client)
    make_invoice()  # another customer's: this customer's invoice is the second of the year
    invoice = make_invoice(subscription=make_subscription("active", customer=customer))
    assert invoice.number.endswith("-000002") and invoice.number != str(invoice.id)

    history = read(client, "/account", "en")
    assert f"No. {invoice.number}" in history and f"№ {invoice.id}" not in history
    page = read(client, f"/account/invoices/{invoice.id}", "en")
    assert f"Invoice {invoice.number}" in page and "№" not in page
    assert f"Счёт № {invoice.number}" in read(client, f"/account/invoices/{invoice.id}", "ru")
    assert f"№ {invoice.number}" in read(client, "/account", "ru")


def test_the_catalogue_names_plans_in_the_page_language_only(client, app):
    make_plan("monthly", name_ru="Месячная", name_en="Monthly")
    signed_in_customer(client)

    russian = read(client, "/", "ru")
    assert "Месячная" in russian and "Выбрать «Месячная»" in russian and "Monthly" not in russian
    english = read(client, "/", "en")
    assert "Choose Monthly" in english and "Месячная" not in english


def test_the_pay_page_names_the_plan_in_the_page_language_only(client, billing):
    make_plan("monthly", name_ru="Месячная", name_en="Monthly")
    signed_in_customer(client)
    invoice, _, _ = start_checkout(client, "monthly")

    russian = read(client, f"/account/pay/{invoice.id}", "ru")
    assert "Месячная" in russian and "Monthly" not in russian
    english = read(client, f"/account/pay/{invoice.id}", "en")
    assert "Subscribe to Monthly" in english and "Месячная" not in english
