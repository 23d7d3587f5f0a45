"""Words of the staff pages for stored values (statuses, kinds, units) in the page's language. The stored value
stays what exports, data attributes and badge classes carry; only its reading is translated. A status is
translated in the context of what it belongs to: Russian agrees it with the noun (подписка активна, счёт оплачен)."""
from flask_babel import lazy_pgettext, ngettext

STATUSES = {
    "subscription": {
        "pending": lazy_pgettext("subscription status", "pending"),
        "trialing": lazy_pgettext("subscription status", "trialing"),
        "active": lazy_pgettext("subscription status", "active"),
        "past_due": lazy_pgettext("subscription status", "past due"),
        "paused": lazy_pgettext("subscription status", "paused"),
        "canceled": lazy_pgettext("subscription status", "canceled"),
        "expired": lazy_pgettext("subscription status", "expired"),
    },
    "invoice": {
        "open": lazy_pgettext("invoice status", "open"),
        "paid": lazy_pgettext("invoice status", "paid"),
        "void": lazy_pgettext("invoice status", "void"),
        "refunded": lazy_pgettext("invoice status", "refunded"),
    },
    "payment": {
        "pending": lazy_pgettext("payment status", "pending"),
        "authorized": lazy_pgettext("payment status", "authorized"),
        "completed": lazy_pgettext("payment status", "completed"),
        "declined": lazy_pgettext("payment status", "declined"),
        "voided": lazy_pgettext("payment status", "voided"),
    },
    "refund": {
        "pending": lazy_pgettext("refund status", "pending"),
        "succeeded": lazy_pgettext("refund status", "succeeded"),
        "failed": lazy_pgettext("refund status", "failed"),
    },
    "plan": {
        "active": lazy_pgettext("plan status", "active"),
        "archived": lazy_pgettext("plan status", "archived"),
    },
    "webhook": {
        "received": lazy_pgettext("notification status", "received"),
        "processed": lazy_pgettext("notification status", "processed"),
        "failed": lazy_pgettext("notification status", "failed"),
        "rejected": lazy_pgettext("notification status", "rejected"),
    },
    "mail": {
        "queued": lazy_pgettext("mail status", "queued"),
        "sending": lazy_pgettext("mail status", "sending"),
        "retrying": lazy_pgettext("mail status", "retrying"),
        "sent": lazy_pgettext("mail status", "sent"),
        "failed": lazy_pgettext("mail status", "failed"),
        "unbuilt": lazy_pgettext("mail status", "unbuilt"),
        "rebuilt": lazy_pgettext("mail status", "rebuilt"),
    },
    "receipt": {
        "pending": lazy_pgettext("receipt status", "pending"),
        "registered": lazy_pgettext("receipt status", "registered"),
        "failed": lazy_pgettext("receipt status", "failed"),
    },
    "action": {
        "queued": lazy_pgettext("action state", "queued"),
        "running": lazy_pgettext("action state", "running"),
        "retrying": lazy_pgettext("action state", "retrying"),
        "succeeded": lazy_pgettext("action state", "succeeded"),
        "failed": lazy_pgettext("action state", "failed"),
        "done": lazy_pgettext("action state", "done"),
    },
    "review": {
        "refunded": lazy_pgettext("review resolution", "refunded"),
        "attached": lazy_pgettext("review resolution", "attached"),
        "dismissed": lazy_pgettext("review resolution", "dismissed"),
    },
}

INVOICE_KINDS = {
    "initial": lazy_pgettext("invoice kind", "initial"),
    "renewal": lazy_pgettext("invoice kind", "renewal"),
    "repay": lazy_pgettext("invoice kind", "repay"),
    "grant": lazy_pgettext("invoice kind", "grant"),
    "verification": lazy_pgettext("invoice kind", "verification"),
    "card_check": lazy_pgettext("invoice kind", "card check"),
    "proration": lazy_pgettext("invoice kind", "proration"),
}

ROLES = {"customer": lazy_pgettext("role", "customer"), "staff": lazy_pgettext("role", "staff")}

UNIT_NAMES = {
    "day": lazy_pgettext("interval unit", "day"),
    "week": lazy_pgettext("interval unit", "week"),
    "month": lazy_pgettext("interval unit", "month"),
    "year": lazy_pgettext("interval unit", "year"),
}


def status_label(kind: str, status: str | None) -> str:
    """A stored status as staff read it; one this table does not know is shown as stored."""
    if status is None:
        return ""
    label = STATUSES.get(kind, {}).get(status)
    return str(label) if label is not None else status.replace("_", " ")


def invoice_kind(kind: str) -> str:
    label = INVOICE_KINDS.get(kind)
    return str(label) if label is not None else kind.replace("_", " ")


def role(name: str) -> str:
    label = ROLES.get(name)
    return str(label) if label is not None else name


def unit_name(unit: str) -> str:
    label = UNIT_NAMES.get(unit)
    return str(label) if label is not None else unit


def interval(count: int, unit: str) -> str:
    """A billing period, "1 month" / "3 months" (1 месяц, 3 месяца)."""
    forms = {
        "day": ngettext("%(num)d day", "%(num)d days", count),
        "week": ngettext("%(num)d week", "%(num)d weeks", count),
        "month": ngettext("%(num)d month", "%(num)d months", count),
        "year": ngettext("%(num)d year", "%(num)d years", count),
    }
    return forms.get(unit, f"{count} {unit}")


DIRECTIONS = {"upgrade": lazy_pgettext("plan change", "upgrade"), "downgrade": lazy_pgettext("plan change", "downgrade"),
              "switch": lazy_pgettext("plan change", "switch")}


def direction(way: str) -> str:
    label = DIRECTIONS.get(way)
    return str(label) if label is not None else way
