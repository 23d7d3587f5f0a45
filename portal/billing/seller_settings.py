"""The seller's settings for fiscal receipts: read from the staff form, checked, saved (one row)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask_babel import lazy_gettext, lazy_pgettext

from portal import clock
from portal.billing.receipts import VAT_CHOICES, seller
from portal.extensions import db
from portal.models import SellerSettings
from portal.providers.receipt import PaymentMethodSign, PaymentSubject, Taxation

FIELDS = ("legal_name", "inn", "taxation", "vat_default", "payment_subject", "payment_method", "receipts_email",
          "address")
# The form's choices as staff read them, in the page's language (evaluated when shown: lazy).
TAXATION_LABELS = {
    Taxation.OSN: lazy_pgettext("tax system", "OSN (general)"),
    Taxation.USN_INCOME: lazy_pgettext("tax system", "USN income"),
    Taxation.USN_INCOME_OUTCOME: lazy_pgettext("tax system", "USN income minus expenses"),
    Taxation.ENVD: lazy_pgettext("tax system", "ENVD"),
    Taxation.ESHN: lazy_pgettext("tax system", "ESHN"),
    Taxation.PATENT: lazy_pgettext("tax system", "Patent"),
}
VAT_LABELS = {"general": lazy_pgettext("VAT rate", "Basic rate of the day (20 % to 2025, 22 % as of 2026)"),
              "none": lazy_pgettext("VAT rate", "No VAT"), "0": "0 %", "10": "10 %", "20": "20 %", "22": "22 %",
              "10/110": "10/110", "20/120": "20/120", "22/122": "22/122"}
SUBJECT_LABELS = {
    PaymentSubject.COMMODITY: lazy_pgettext("payment subject", "commodity"),
    PaymentSubject.JOB: lazy_pgettext("payment subject", "job"),
    PaymentSubject.SERVICE: lazy_pgettext("payment subject", "service"),
    PaymentSubject.INTELLECTUAL_ACTIVITY: lazy_pgettext("payment subject", "intellectual activity"),
    PaymentSubject.PAYMENT: lazy_pgettext("payment subject", "payment"),
    PaymentSubject.ANOTHER: lazy_pgettext("payment subject", "another"),
}
METHOD_LABELS = {
    PaymentMethodSign.FULL_PREPAYMENT: lazy_pgettext("payment method sign", "full prepayment"),
    PaymentMethodSign.PARTIAL_PREPAYMENT: lazy_pgettext("payment method sign", "partial prepayment"),
    PaymentMethodSign.ADVANCE: lazy_pgettext("payment method sign", "advance"),
    PaymentMethodSign.FULL_PAYMENT: lazy_pgettext("payment method sign", "full payment"),
    PaymentMethodSign.PARTIAL_PAYMENT: lazy_pgettext("payment method sign", "partial payment"),
    PaymentMethodSign.CREDIT: lazy_pgettext("payment method sign", "credit"),
    PaymentMethodSign.CREDIT_PAYMENT: lazy_pgettext("payment method sign", "credit payment"),
}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_INN_10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN_11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN_12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


@dataclass
class SellerForm:
    values: dict
    vat_by_plan: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def inn_valid(inn: str) -> bool:
    """A 10-digit (company) or 12-digit (sole trader) INN with its check digits right."""
    if not inn.isdigit() or len(inn) not in (10, 12):
        return False
    digits = [int(c) for c in inn]

    def check(weights):
        return sum(w * d for w, d in zip(weights, digits, strict=False)) % 11 % 10

    if len(inn) == 10:
        return check(_INN_10) == digits[9]
    return check(_INN_11) == digits[10] and check(_INN_12) == digits[11]


def current_form() -> SellerForm:
    settings = seller()
    if settings is None:
        return SellerForm({"taxation": "usn_income", "vat_default": "none", "payment_subject": "service",
                           "payment_method": "full_prepayment"})
    return SellerForm({name: getattr(settings, name) or "" for name in FIELDS}, dict(settings.vat_by_plan or {}))


def read_form(form, plan_codes) -> SellerForm:
    values = {name: " ".join((form.get(name) or "").split()) for name in FIELDS}
    errors = {}
    if not values["legal_name"] or len(values["legal_name"]) > 255:
        errors["legal_name"] = lazy_gettext("The legal name as registered, up to 255 characters.")
    if not inn_valid(values["inn"]):
        errors["inn"] = lazy_gettext("An INN of 10 digits (company) or 12 (sole trader) with valid check digits.")
    choices = {"taxation": [t.value for t in Taxation], "vat_default": VAT_CHOICES,
               "payment_subject": [s.value for s in PaymentSubject],
               "payment_method": [m.value for m in PaymentMethodSign]}
    for name, allowed in choices.items():
        if values[name] not in allowed:
            errors[name] = lazy_gettext("Choose one of the listed values.")
    if not _EMAIL.fullmatch(values["receipts_email"]) or len(values["receipts_email"]) > 254:
        errors["receipts_email"] = lazy_gettext("An email address receipts are sent from.")
    vat_by_plan = {}
    for code in plan_codes:
        choice = form.get(f"vat_plan_{code}") or ""
        if choice and choice not in VAT_CHOICES:
            errors[f"vat_plan_{code}"] = lazy_gettext("Choose one of the listed rates.")
        elif choice:
            vat_by_plan[code] = choice
    return SellerForm(values, vat_by_plan, errors)


def save(form: SellerForm, *, actor: str) -> dict:
    """Write the settings; returns what changed ({field: [before, after]}) for the audit row."""
    settings = db.session.get(SellerSettings, 1, with_for_update=True)
    before = {} if settings is None else {**{n: getattr(settings, n) for n in FIELDS},
                                          "vat_by_plan": dict(settings.vat_by_plan or {})}
    if settings is None:
        settings = SellerSettings(id=1)
        db.session.add(settings)
    for name in FIELDS:
        setattr(settings, name, form.values[name])
    settings.vat_by_plan = form.vat_by_plan
    settings.changed_by, settings.changed_at = actor, clock.now()
    after = {**form.values, "vat_by_plan": form.vat_by_plan}
    return {name: [before.get(name), value] for name, value in after.items() if before.get(name) != value}
