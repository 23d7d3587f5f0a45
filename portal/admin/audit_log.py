"""How the staff audit log reads: each row's target as a link to its page, and its details as labelled values,
amounts as money of the row's currency, dates as dates, a change as "before → after". The stored details stay
as they were written (the machine-readable record, also in the export); this is only their reading."""
from dataclasses import dataclass
from datetime import datetime

from flask import url_for
from flask_babel import lazy_gettext
from sqlalchemy import select

from portal.admin import bp
from portal.admin.labels import action_result, code_label, status_label
from portal.extensions import db
from portal.models import Plan, StaffAction
from portal.money import format_money
from portal.templating import page_moment

# target_type: (what it is called, the page that shows it, that page's argument)
TARGETS = {
    "subscription": (lazy_gettext("subscription"), "admin.subscription", "subscription_id"),
    "payment": (lazy_gettext("payment"), "admin.payment", "payment_id"),
    "plan": (lazy_gettext("plan"), "admin.plan_edit", "plan_id"),
    "customer": (lazy_gettext("customer"), "admin.customer", "customer_id"),
    "webhook_event": (lazy_gettext("notification"), "admin.webhook", "event_id"),
    "mail": (lazy_gettext("mail"), None, None),
    "receipt": (lazy_gettext("receipt"), None, None),
    "rq_job": (lazy_gettext("job"), None, None),
    "currency": (lazy_gettext("currency"), "admin.providers_index", None),
    "seller": (lazy_gettext("seller details"), "admin.seller", None),
}
LABELS = {
    "amount": lazy_gettext("amount"), "from_amount": lazy_gettext("price before"),
    "expected_refund": lazy_gettext("refund expected"), "refund": lazy_gettext("refund"),
    "reason": lazy_gettext("reason"), "when": lazy_gettext("when"), "days": lazy_gettext("days"),
    "full": lazy_gettext("in full"), "code": lazy_gettext("plan code"), "provider": lazy_gettext("provider"),
    "before": lazy_gettext("before"), "purpose": lazy_gettext("mail"), "to": lazy_gettext("to"),
    "state": lazy_gettext("state"), "message": lazy_gettext("result"), "plan": lazy_gettext("plan"),
    "subscription_id": lazy_gettext("subscription"), "payment_id": lazy_gettext("payment"),
    "effective_from": lazy_gettext("takes effect"), "first_renewal_at": lazy_gettext("first renewal at it"),
    "failure": lazy_gettext("failure"), "func": lazy_gettext("job"), "args": lazy_gettext("arguments"),
    "name": lazy_gettext("name"), "description": lazy_gettext("description"), "currency": lazy_gettext("currency"),
    "interval_unit": lazy_gettext("interval"), "interval_count": lazy_gettext("intervals"),
    "trial_days": lazy_gettext("trial days"), "paused": lazy_gettext("paused"), "status": lazy_gettext("status"),
    "result": lazy_gettext("result"), "months": lazy_gettext("months"), "starts_at": lazy_gettext("starts"),
    "resumes_at": lazy_gettext("resumes"), "invoice_id": lazy_gettext("invoice"), "attempt": lazy_gettext("attempt"),
    "from_plan": lazy_gettext("plan before"), "undo": lazy_gettext("undone"), "direction": lazy_gettext("direction"),
    "card": lazy_gettext("card"), "payment_method_id": lazy_gettext("saved card"),
    "customer_id": lazy_gettext("customer"), "count": lazy_gettext("subscriptions"),
    "kind": lazy_gettext("kind"), "status_before": lazy_gettext("status before"),
    "error_before": lazy_gettext("error before"), "review_reason": lazy_gettext("why it was held"),
    "refund_id": lazy_gettext("refund"), "event_id": lazy_gettext("notification"),
    "from_offset_seconds": lazy_gettext("clock offset before, s"), "offset_seconds": lazy_gettext("clock offset, s"),
}
# Stored codes among the details, read as words: (the labels' group, a status's kind).
WORDS = {"state": ("status", "action"), "status_before": ("status", "webhook"), "kind": ("code", "notification"),
         "when": ("code", "when"), "direction": ("code", "plan change")}
MONEY = {"amount", "from_amount", "expected_refund", "refund_amount"}
MOMENTS = {"effective_from", "first_renewal_at", "resumes_at", "until", "starts_at"}
LINKED = {"subscription_id": "subscription", "payment_id": "payment", "event_id": "webhook_event"}
HIDDEN = {"finished_at", "currency", "result_message"}  # the currency is said with each amount; the result's msgid
# and values are read into the result


@dataclass(frozen=True)
class Link:
    text: str
    url: str | None


@dataclass(frozen=True)
class Detail:
    label: str
    value: str
    url: str | None = None


@dataclass(frozen=True)
class Entry:
    row: StaffAction
    target: Link
    details: list[Detail]


def entries(rows: list[StaffAction]) -> list[Entry]:
    """The rows of one page, read: one query for the plans' currencies, whatever the number of rows."""
    plan_ids = {int(row.target_id) for row in rows if row.target_type == "plan" and row.target_id.isdigit()}
    currencies = dict(db.session.execute(select(Plan.id, Plan.currency).where(Plan.id.in_(plan_ids))).all()) \
        if plan_ids else {}
    return [_entry(row, currencies) for row in rows]


@bp.app_template_global("audit_target")
def target(target_type: str, target_id: str) -> Link:
    name, endpoint, argument = TARGETS.get(target_type, (target_type, None, None))
    if target_type == "seller":
        text = str(name)
    elif target_type == "currency":
        text = f"{name} {target_id}"
    else:
        text = f"{name} #{target_id}"
    if endpoint is None or (argument and not str(target_id).isdigit()):
        return Link(text, None)
    return Link(text, url_for(endpoint, **({argument: int(target_id)} if argument else {})))


def _entry(row: StaffAction, plan_currencies: dict) -> Entry:
    details = row.details or {}
    currency = details.get("currency")
    if currency is None and row.target_type == "plan" and row.target_id.isdigit():
        currency = plan_currencies.get(int(row.target_id))
    read = []
    for key, value in details.items():
        if key in HIDDEN or value is None or value == "":
            continue
        if key == "changes" and isinstance(value, dict):
            read += _changes(value, currency)
            continue
        if key == "result":
            read.append(Detail(str(LABELS[key]), action_result(details)))
            continue
        if key in LINKED and str(value).isdigit():
            link = target(LINKED[key], str(value))
            read.append(Detail(str(LABELS.get(key, key)), link.text, link.url))
            continue
        read.append(Detail(str(LABELS.get(key, key)), _value(key, value, currency)))
    return Entry(row, target(row.target_type, row.target_id), read)


def _changes(changes: dict, currency: str | None) -> list[Detail]:
    """{field: [before, after]} as "before → after"; an amount's after is in the new currency if that changed."""
    moved = changes.get("currency")
    after_currency = moved[-1] if isinstance(moved, list) and moved else currency
    read = []
    for field, change in changes.items():
        if isinstance(change, list) and len(change) == 2:
            text = f"{_value(field, change[0], currency)} → {_value(field, change[1], after_currency)}"
        else:  # a shape this reading does not know: shown as stored, never a failed page
            text = str(change)
        read.append(Detail(str(LABELS.get(field, field)), text))
    return read


def _value(key: str, value, currency: str | None) -> str:
    if key in MONEY and isinstance(value, int) and not isinstance(value, bool) and currency:
        return format_money(value, currency, "en")
    if key in MOMENTS and isinstance(value, str):
        try:
            return page_moment(datetime.fromisoformat(value))
        except ValueError:
            return value
    if key in WORDS and isinstance(value, str):
        group, kind = WORDS[key]
        return status_label(kind, value) if group == "status" else code_label(kind, value)
    if isinstance(value, bool):
        return str(lazy_gettext("yes") if value else lazy_gettext("no"))
    return str(value)
