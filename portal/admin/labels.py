"""Words of the staff pages for stored values (statuses, kinds, roles, units) in the page's language. The stored
value stays what exports, data attributes and badge classes carry; only its reading is translated. A status is
translated in the context of what it belongs to, as Russian agrees it with its noun (подписка активна, счёт
оплачен). The tables are built when asked (pgettext, which the catalogue's extraction knows), in the request's
language."""
from flask_babel import ngettext, pgettext


def _statuses(kind: str) -> dict[str, str]:
    if kind == "subscription":
        return {
            "pending": pgettext("subscription status", "pending"),
            "trialing": pgettext("subscription status", "trialing"),
            "active": pgettext("subscription status", "active"),
            "past_due": pgettext("subscription status", "past due"),
            "paused": pgettext("subscription status", "paused"),
            "canceled": pgettext("subscription status", "canceled"),
            "expired": pgettext("subscription status", "expired"),
        }
    if kind == "invoice":
        return {
            "open": pgettext("invoice status", "open"),
            "paid": pgettext("invoice status", "paid"),
            "void": pgettext("invoice status", "void"),
            "refunded": pgettext("invoice status", "refunded"),
        }
    if kind == "payment":
        return {
            "pending": pgettext("payment status", "pending"),
            "authorized": pgettext("payment status", "authorized"),
            "completed": pgettext("payment status", "completed"),
            "declined": pgettext("payment status", "declined"),
            "voided": pgettext("payment status", "voided"),
        }
    if kind == "refund":
        return {
            "pending": pgettext("refund status", "pending"),
            "succeeded": pgettext("refund status", "succeeded"),
            "failed": pgettext("refund status", "failed"),
        }
    if kind == "plan":
        return {"active": pgettext("plan status", "active"), "archived": pgettext("plan status", "archived")}
    if kind == "webhook":
        return {
            "received": pgettext("notification status", "received"),
            "processed": pgettext("notification status", "processed"),
            "failed": pgettext("notification status", "failed"),
            "rejected": pgettext("notification status", "rejected"),
        }
    if kind == "mail":
        return {
            "queued": pgettext("mail status", "queued"),
            "sending": pgettext("mail status", "sending"),
            "retrying": pgettext("mail status", "retrying"),
            "sent": pgettext("mail status", "sent"),
            "failed": pgettext("mail status", "failed"),
            "unbuilt": pgettext("mail status", "unbuilt"),
            "rebuilt": pgettext("mail status", "rebuilt"),
        }
    if kind == "receipt":
        return {
            "pending": pgettext("receipt status", "pending"),
            "registered": pgettext("receipt status", "registered"),
            "failed": pgettext("receipt status", "failed"),
        }
    if kind == "action":
        return {
            "queued": pgettext("action state", "queued"),
            "running": pgettext("action state", "running"),
            "retrying": pgettext("action state", "retrying"),
            "succeeded": pgettext("action state", "succeeded"),
            "failed": pgettext("action state", "failed"),
            "done": pgettext("action state", "done"),
        }
    if kind == "review":
        return {
            "refunded": pgettext("review resolution", "refunded"),
            "attached": pgettext("review resolution", "attached"),
            "dismissed": pgettext("review resolution", "dismissed"),
        }
    return {}


def status_label(kind: str, status: str | None) -> str:
    """A stored status as staff read it; one these tables do not know is shown as stored."""
    if status is None:
        return ""
    return _statuses(kind).get(status) or status.replace("_", " ")


def invoice_kind(kind: str) -> str:
    return {
        "initial": pgettext("invoice kind", "initial"),
        "renewal": pgettext("invoice kind", "renewal"),
        "repay": pgettext("invoice kind", "repay"),
        "grant": pgettext("invoice kind", "grant"),
        "verification": pgettext("invoice kind", "verification"),
        "card_check": pgettext("invoice kind", "card check"),
        "proration": pgettext("invoice kind", "proration"),
    }.get(kind) or kind.replace("_", " ")


def role(name: str) -> str:
    return {"customer": pgettext("role", "customer"), "staff": pgettext("role", "staff")}.get(name) or name


def unit_name(unit: str) -> str:
    return {
        "day": pgettext("interval unit", "day"),
        "week": pgettext("interval unit", "week"),
        "month": pgettext("interval unit", "month"),
        "year": pgettext("interval unit", "year"),
    }.get(unit) or unit


def interval(count: int, unit: str) -> str:
    """A billing period, "1 month" / "3 months" (1 месяц, 3 месяца)."""
    if unit == "day":
        return ngettext("%(num)d day", "%(num)d days", count)
    if unit == "week":
        return ngettext("%(num)d week", "%(num)d weeks", count)
    if unit == "month":
        return ngettext("%(num)d month", "%(num)d months", count)
    if unit == "year":
        return ngettext("%(num)d year", "%(num)d years", count)
    return f"{count} {unit}"


def direction(way: str) -> str:
    """Which way a plan change goes (portal/billing/proration.py)."""
    return {
        "upgrade": pgettext("plan change", "upgrade"),
        "downgrade": pgettext("plan change", "downgrade"),
        "switch": pgettext("plan change", "switch"),
    }.get(way) or way
