"""Seller settings for receipt tests, saved as staff would."""
from portal.extensions import db
from portal.models import SellerSettings


def make_seller(taxation="usn_income", vat_default="none", vat_by_plan=None, method="full_prepayment"):
    settings = SellerSettings(id=1, legal_name="ООО «Кинозал»", inn="7707083893", taxation=taxation,
                              vat_default=vat_default, vat_by_plan=vat_by_plan or {}, payment_subject="service",
                              payment_method=method, receipts_email="receipts@kinozal.example",
                              address="Москва, ул. Примерная, д. 1", changed_by="staff:test")
    db.session.merge(settings)
    db.session.commit()
    return db.session.get(SellerSettings, 1)
