"""Invoice and receipt numbers: one yearly sequence per kind, consecutive whoever creates at the same moment,
no number lost to a rolled-back creation, a new sequence each year."""
import threading
from datetime import UTC, datetime

from flask_babel import force_locale
from sqlalchemy import select

from portal import clock
from portal.admin.queries import search
from portal.billing.checkout import start_checkout
from portal.extensions import db
from portal.machines import atomic
from portal.models import DocumentCounter, Invoice, User
from tests.factories import make_customer, make_invoice, make_plan


def numbers() -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(Invoice.number).order_by(Invoice.number)))


def test_checkouts_at_once_get_consecutive_invoice_numbers_without_gaps_or_duplicates(app):
    make_plan("basic")
    customers = [make_customer().id for _ in range(6)]
    together = threading.Barrier(len(customers))
    errors = []

    def checkout(customer_id):
        with app.app_context():
            try:
                together.wait(timeout=10)
                with atomic():
                    start_checkout(db.session.get(User, customer_id), "basic")
                    # Hold the counter row while the others queue behind it.
                    db.session.execute(select(db.func.pg_sleep(0.05)))
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=checkout, args=(c,)) for c in customers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    year = clock.now().year
    assert numbers() == [f"{year}-{n:06d}" for n in range(1, 7)]
    assert db.session.get(DocumentCounter, ("invoice", year)).last_number == 6


def test_a_rolled_back_creation_gives_its_number_back(app):
    first = make_invoice()
    customer = make_customer()
    make_plan("basic")
    try:
        with atomic():
            _, invoice = start_checkout(customer, "basic")
            taken = invoice.number
            raise RuntimeError("the checkout fails after its invoice was written")
    except RuntimeError:
        pass
    year = clock.now().year
    assert (first.number, taken) == (f"{year}-000001", f"{year}-000002")

    _, again = start_checkout(customer, "basic")
    db.session.commit()
    assert again.number == f"{year}-000002"
    assert numbers() == [f"{year}-000001", f"{year}-000002"]


def test_the_new_year_starts_each_sequence_again(app):
    clock.freeze(datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    last_of_year = [make_invoice().number for _ in range(2)]
    clock.advance(datetime(2027, 1, 1, 0, 1, tzinfo=UTC) - clock.now())
    first_of_year = make_invoice().number
    assert last_of_year == ["2026-000001", "2026-000002"] and first_of_year == "2027-000001"


def test_staff_search_finds_an_invoice_by_its_number(app):
    invoice = make_invoice()
    with force_locale("en"):  # what matched is said in the reader's language
        found = search(invoice.number)
    assert [c.id for c in found.customers] == [invoice.customer_id]
    assert found.matched_by[invoice.customer_id] == f"invoice {invoice.number}"
