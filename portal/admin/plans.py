"""The plan catalogue as staff manage it: create, edit, archive, restore, and delete only what was never sold.

A plan's price is copied onto each subscription when it is bought (subscriptions.amount) and every renewal
invoice charges that copy, so a new price applies to new subscriptions only. The billing interval and currency
are not copied: renewals read them from the plan, so they are fixed once the plan has a subscription."""
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_precision, list_currencies
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import func, select

from portal.admin.actions import Staff, audit
from portal.admin.labels import translated
from portal.billing.errors import InvalidRequest, NotAllowed, NotFound
from portal.extensions import db
from portal.models import Plan, Subscription
from portal.models.catalog import INTERVAL_UNITS, PLAN_LANGUAGES

CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_AMOUNT = 10**9
# Copied onto nothing: changing these would change what existing subscriptions renew at.
FIXED_ONCE_SOLD = ("currency", "interval_unit", "interval_count")
# A plan is named and described in every language the pages speak: name_ru, name_en, description_ru, ...
WORDS = tuple(f"{field}_{code}" for field in ("name", "description") for code in PLAN_LANGUAGES)
LANGUAGE_NAMES = {"ru": "Russian", "en": "English"}
# The error of a missing name, a sentence per language (a language's name takes its own case in Russian).
NAME_ERRORS = {"ru": _l("Give the plan a name in Russian (up to 200 characters)."),
               "en": _l("Give the plan a name in English (up to 200 characters).")}
EDITABLE = (*WORDS, "amount", "trial_days", *FIXED_ONCE_SOLD)


def parse_money(text: str | None, currency: str) -> int:
    """'299', '299.00' or '299,5' in major units → minor units; more decimals than the currency has is an error."""
    raw = (text or "").strip().replace(" ", "").replace("\u00a0", "").replace(",", ".")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise InvalidRequest(_("Enter an amount like 299.00.")) from None
    if not value.is_finite() or value < 0:
        raise InvalidRequest(_("Enter an amount like 299.00."))
    minor = value.scaleb(get_currency_precision(currency))
    if minor != minor.to_integral_value():
        raise InvalidRequest(ngettext("%(currency)s has %(num)d decimal place at most.",
                                      "%(currency)s has %(num)d decimal places at most.",
                                      get_currency_precision(currency), currency=currency))
    if minor > MAX_AMOUNT:
        raise InvalidRequest(_("That amount is too large."))
    return int(minor)


@dataclass
class PlanForm:
    """A plan form as typed, and what is wrong with it, field by field."""

    values: dict
    errors: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def read_form(form, plan: Plan | None = None) -> PlanForm:
    v = {
        "code": (form.get("code") or (plan.code if plan else "")).strip().lower(),
        **{f"name_{code}": " ".join((form.get(f"name_{code}") or "").split()) for code in PLAN_LANGUAGES},
        **{f"description_{code}": (form.get(f"description_{code}") or "").strip() for code in PLAN_LANGUAGES},
        "currency": (form.get("currency") or "").strip().upper(),
        "interval_unit": form.get("interval_unit") or "month",
        "price": (form.get("price") or "").strip(),
        "interval_count": (form.get("interval_count") or "1").strip(),
        "trial_days": (form.get("trial_days") or "0").strip(),
    }
    result = PlanForm(values=v)
    e = result.errors
    if plan is None and not CODE.match(v["code"]):
        e["code"] = _("Lower-case letters, digits, - and _; up to 64 characters.")
    elif plan is None and db.session.scalar(select(Plan.id).where(Plan.code == v["code"])) is not None:
        e["code"] = _("Another plan has this code.")
    for code in PLAN_LANGUAGES:
        if not v[f"name_{code}"] or len(v[f"name_{code}"]) > 200:
            e[f"name_{code}"] = str(NAME_ERRORS[code]) if code in NAME_ERRORS else \
                f"Give the plan a name in {LANGUAGE_NAMES[code]} (up to 200 characters)."
    if v["currency"] not in list_currencies():
        e["currency"] = _("An ISO 4217 code, like RUB.")
    if v["interval_unit"] not in INTERVAL_UNITS:
        e["interval_unit"] = _("Day, week, month or year.")
    for name, low, high in (("interval_count", 1, 36), ("trial_days", 0, 366)):
        if not v[name].isdigit() or not low <= int(v[name]) <= high:
            e[name] = _("A whole number from %(low)s to %(high)s.", low=low, high=high)
    if "currency" not in e:
        try:
            v["amount"] = parse_money(v["price"], v["currency"])
        except InvalidRequest as exc:
            e["price"] = translated(exc.message)
    return result


def subscription_count(plan_id: int) -> int:
    return db.session.scalar(select(func.count(Subscription.id)).where(Subscription.plan_id == plan_id))


def _fields(form: PlanForm) -> dict:
    v = form.values
    return {**{name: v[name] for name in WORDS}, "amount": v["amount"], "currency": v["currency"],
            "interval_unit": v["interval_unit"], "interval_count": int(v["interval_count"]),
            "trial_days": int(v["trial_days"])}


def create_plan(staff: Staff, form: PlanForm) -> Plan:
    if not form.ok:
        raise InvalidRequest(_("The plan form has errors."))
    plan = Plan(code=form.values["code"], status="active", **_fields(form))
    db.session.add(plan)
    db.session.flush()
    audit(staff, "plan.create", "plan", plan.id, {"code": plan.code, **_fields(form)})
    db.session.commit()
    return plan


def _plan(plan_id: int) -> Plan:
    plan = db.session.scalar(select(Plan).where(Plan.id == plan_id).with_for_update())
    if plan is None:
        raise NotFound(f"plan {plan_id} does not exist")
    return plan


def update_plan(staff: Staff, plan_id: int, form: PlanForm) -> dict:
    """Returns the changes made ({field: [before, after]}). A price change reaches new subscriptions only."""
    plan = _plan(plan_id)
    if not form.ok:
        raise InvalidRequest(_("The plan form has errors."))
    wanted = _fields(form)
    changes = {name: [getattr(plan, name), wanted[name]] for name in EDITABLE if getattr(plan, name) != wanted[name]}
    fixed = [name for name in FIXED_ONCE_SOLD if name in changes]
    if fixed and subscription_count(plan.id):
        raise NotAllowed(_("The currency and billing interval cannot change once a plan has subscriptions: renewals "
                           "follow them. Create a new plan and archive this one instead."))
    if not changes:
        return {}
    for name, (_before, after) in changes.items():
        setattr(plan, name, after)
    audit(staff, "plan.update", "plan", plan.id, {"code": plan.code, "changes": changes})
    db.session.commit()
    return changes


def set_archived(staff: Staff, plan_id: int, archived: bool) -> Plan:
    """Archived: off sale (no new checkouts); existing subscriptions keep renewing at their own price."""
    plan = _plan(plan_id)
    status = "archived" if archived else "active"
    if plan.status != status:
        before, plan.status = plan.status, status
        audit(staff, "plan.archive" if archived else "plan.restore", "plan", plan.id,
              {"code": plan.code, "status": [before, status]})
    db.session.commit()
    return plan


def delete_plan(staff: Staff, plan_id: int) -> None:
    """Only a plan nobody ever subscribed to: invoices and timelines of a sold plan must stay readable."""
    plan = _plan(plan_id)
    used = subscription_count(plan.id)
    if used:
        db.session.rollback()
        raise NotAllowed(ngettext("Plan %(code)s has %(num)d subscription and cannot be deleted; archive it instead.",
                                  "Plan %(code)s has %(num)d subscriptions and cannot be deleted; archive it instead.",
                                  used, code=plan.code))
    audit(staff, "plan.delete", "plan", plan.id, {"code": plan.code, "amount": plan.amount, "currency": plan.currency})
    db.session.delete(plan)
    db.session.commit()


def set_currency_provider(staff: Staff, currency: str, provider: str) -> str | None:
    """Staff choose which provider new checkouts in a currency pay with; audited. Returns the one before."""
    from portal.billing.provider_choice import set_default_provider

    before = set_default_provider(currency, provider, actor=staff.actor)
    audit(staff, "provider.set_default", "currency", currency, {"provider": provider, "before": before})
    db.session.commit()
    return before
