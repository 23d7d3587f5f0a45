"""One date style per language on every customer page and document: "7 декабря 2026" and "December 7, 2026",
a moment adding its time and zone ("7 декабря 2026, 00:53 (мск)"); never Babel's short or medium forms
("07.12.2026", "7 дек. 2026 г.", "Dec 7, 2026", "12/7/26") beside them."""
import re
from datetime import UTC, datetime

import pytest

from portal.extensions import db
from portal.models import Payment
from tests.auth.helpers import signed_in_customer
from tests.factories import make_invoice, make_subscription

OTHER_STYLES = re.compile(r"\b\d{2}\.\d{2}\.\d{4}\b|\b\d{1,2}/\d{1,2}/\d{2}\b|\bг\."
                          r"|\b(?:янв|февр|мар|апр|июн|июл|авг|сент|окт|нояб|дек)\."
                          r"|\b(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d")
PAID_AT = datetime(2026, 12, 6, 21, 53, tzinfo=UTC)  # 00:53 on 7 December in Moscow


@pytest.fixture
def paid_customer(client, app):
    customer = signed_in_customer(client)
    sub = make_subscription("active", customer=customer)
    invoice = make_invoice(sub, status="paid")
    invoice.period_start = datetime(2026, 12, 6, 21, 0, tzinfo=UTC)
    invoice.period_end = datetime(2027, 1, 6, 21, 0, tzinfo=UTC)
    payment = Payment(provider="cloudpayments", provider_transaction_id="style-1", invoice_id=invoice.id,
                      customer_id=customer.id, amount=invoice.amount, currency="RUB", status="completed",
                      created_at=PAID_AT)
    db.session.add(payment)
    db.session.commit()
    return invoice, payment


@pytest.mark.parametrize("language,day,moment", [
    ("ru", "7 декабря 2026", "7 декабря 2026, 00:53 (мск)"),
    ("en", "December 7, 2026", "December 7, 2026, 00:53 (Moscow time)"),
])
def test_every_page_writes_dates_one_way(client, paid_customer, language, day, moment):
    invoice, payment = paid_customer
    pages = {path: client.get(path, headers={"Accept-Language": language}).get_data(as_text=True)
             for path in ("/account", f"/account/invoices/{invoice.id}",
                          f"/account/payments/{payment.id}/receipt")}
    for path, html in pages.items():
        assert not OTHER_STYLES.search(html), f"{path}: {OTHER_STYLES.search(html).group(0)!r}"
    assert moment in pages["/account"] and moment in pages[f"/account/payments/{payment.id}/receipt"]
    assert day in pages["/account"]  # the invoice's period, as dates
