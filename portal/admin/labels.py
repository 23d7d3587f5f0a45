"""Status words of the staff pages in the reader's language. The stored status stays what CSS classes, data-status
attributes and exports carry; only its reading is translated. Each kind has its own message context, as Russian
agrees the word with its noun (подписка активна, счёт оплачен). The English of each label is the stored status with
'_' read as a space, as the pages showed it before; a status the tables do not know is shown that way too."""
from flask_babel import gettext, lazy_pgettext

from portal.admin import bp
from portal.billing.errors import Status

STATUS_LABELS = {
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
        "received": lazy_pgettext("webhook status", "received"),
        "processed": lazy_pgettext("webhook status", "processed"),
        "failed": lazy_pgettext("webhook status", "failed"),
        "rejected": lazy_pgettext("webhook status", "rejected"),
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
    # A staff action's state on its audit row (portal.admin.actions: queued … failed; "done" when none is recorded).
    "action": {
        "queued": lazy_pgettext("action state", "queued"),
        "running": lazy_pgettext("action state", "running"),
        "retrying": lazy_pgettext("action state", "retrying"),
        "succeeded": lazy_pgettext("action state", "succeeded"),
        "failed": lazy_pgettext("action state", "failed"),
        "done": lazy_pgettext("action state", "done"),
    },
    # An RQ job's status on the operations page.
    "job": {
        "queued": lazy_pgettext("job status", "queued"),
        "started": lazy_pgettext("job status", "started"),
        "deferred": lazy_pgettext("job status", "deferred"),
        "scheduled": lazy_pgettext("job status", "scheduled"),
        "finished": lazy_pgettext("job status", "finished"),
        "stopped": lazy_pgettext("job status", "stopped"),
        "canceled": lazy_pgettext("job status", "canceled"),
        "failed": lazy_pgettext("job status", "failed"),
    },
}


@bp.app_template_global()
def status_label(kind: str, status: str | None) -> str:
    """A stored status as staff read it, in the page's language; unknown ones as stored, '_' read as a space."""
    if status is None:
        return ""
    label = STATUS_LABELS.get(kind, {}).get(status)
    return str(label) if label is not None else str(status).replace("_", " ")


# Other stored codes staff read (a notification's kind, …): the code stays in values, attributes and exports; the
# page shows its word. Each group has its own message context; the English is the code, '_' read as a space.
CODE_LABELS = {
    # A provider notification's kind (portal.providers.base.NOTIFICATION_KINDS).
    "notification": {
        "check": lazy_pgettext("notification kind", "check"),
        "pay": lazy_pgettext("notification kind", "pay"),
        "fail": lazy_pgettext("notification kind", "fail"),
        "confirm": lazy_pgettext("notification kind", "confirm"),
        "refund": lazy_pgettext("notification kind", "refund"),
        "recurrent": lazy_pgettext("notification kind", "recurrent"),
        "cancel": lazy_pgettext("notification kind", "cancel"),
        "receipt": lazy_pgettext("notification kind", "receipt"),
    },
}


@bp.app_template_global()
def code_label(kind: str, code: str | None) -> str:
    """A stored code as staff read it, in the page's language; unknown ones as stored, '_' read as a space."""
    if code is None:
        return ""
    label = CODE_LABELS.get(kind, {}).get(code)
    return str(label) if label is not None else str(code).replace("_", " ")


@bp.app_template_global()
def translated(message) -> str:
    """A billing message (portal.billing.errors.Message) in the page's language, from the msgid it remembers and
    its values, a stored status read as its word; any other text as it is (the catalogue may not have it)."""
    if message is None:
        return ""
    template = getattr(message, "template", None)
    if template is None:
        return str(message)
    values = {name: status_label(value.kind, value) if isinstance(value, Status) else value
              for name, value in message.values.items()}
    return gettext(template, **values)
