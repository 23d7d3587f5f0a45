"""Status words of the staff pages in the reader's language. The stored status stays what CSS classes, data-status
attributes and exports carry; only its reading is translated. Each kind has its own message context, as Russian
agrees the word with its noun (подписка активна, счёт оплачен). The English of each label is the stored status with
'_' read as a space, as the pages showed it before; a status the tables do not know is shown that way too."""
import re
from datetime import date

from flask_babel import gettext, lazy_pgettext
from markupsafe import Markup

from portal.account.labels import invoice_kind, per_interval
from portal.admin import bp
from portal.billing.errors import Message, Status

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


# A plan's billing period and an invoice's kind as the customer pages write them ("в месяц", "Renewal").
bp.add_app_template_global(per_interval, "per_interval")
bp.add_app_template_global(invoice_kind, "invoice_kind")


# Other stored codes staff read (a notification's kind, …): the code stays in values, attributes and exports; the
# page shows its word. Each group has its own message context; the English is the code, '_' read as a space.
CODE_LABELS = {
    # An outgoing mail's purpose (portal.mail: send(purpose, ...) and the account mails).
    "mail purpose": {
        "payment_receipt": lazy_pgettext("mail purpose", "payment receipt"),
        "payment_failed": lazy_pgettext("mail purpose", "payment failed"),
        "refund_succeeded": lazy_pgettext("mail purpose", "refund made"),
        "subscription_renewed": lazy_pgettext("mail purpose", "subscription renewed"),
        "subscription_canceled": lazy_pgettext("mail purpose", "subscription canceled"),
        "subscription_expired": lazy_pgettext("mail purpose", "subscription ended"),
        "subscription_paused": lazy_pgettext("mail purpose", "subscription paused"),
        "subscription_plan_changed": lazy_pgettext("mail purpose", "plan changed"),
        "price_change": lazy_pgettext("mail purpose", "price change"),
        "trial_ending": lazy_pgettext("mail purpose", "trial ending"),
        "renewal_upcoming": lazy_pgettext("mail purpose", "renewal coming"),
        "card_expiring": lazy_pgettext("mail purpose", "card expiring"),
        "card_check_request": lazy_pgettext("mail purpose", "card check link"),
        "checkout_request": lazy_pgettext("mail purpose", "payment link"),
        "verify_email": lazy_pgettext("mail purpose", "address confirmation"),
        "password_reset": lazy_pgettext("mail purpose", "password reset"),
        "account_exists": lazy_pgettext("mail purpose", "account exists"),
        "email_change": lazy_pgettext("mail purpose", "address change"),
        "email_changed": lazy_pgettext("mail purpose", "address changed"),
    },
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
    # A staff action (staff_actions.action), as the audit log and the action pages name it.
    "action": {
        "subscription.cancel": lazy_pgettext("staff action", "cancel the subscription"),
        "payment.refund": lazy_pgettext("staff action", "refund"),
        "subscription.grant_days": lazy_pgettext("staff action", "grant extra days"),
        "subscription.retry_charge": lazy_pgettext("staff action", "retry the charge"),
        "subscription.change_plan": lazy_pgettext("staff action", "change plan"),
        "subscription.pause": lazy_pgettext("staff action", "pause"),
        "subscription.resume": lazy_pgettext("staff action", "resume"),
        "subscription.remove_card": lazy_pgettext("staff action", "remove the card"),
        "subscription.replace_card": lazy_pgettext("staff action", "replace the card"),
        "customer.resubscribe": lazy_pgettext("staff action", "resubscribe"),
        "subscription.move_price": lazy_pgettext("staff action", "move to the plan's price"),
        "plan.move_subscribers_to_price": lazy_pgettext("staff action", "move subscribers to the plan's price"),
        "webhook.replay": lazy_pgettext("staff action", "replay the notification"),
        "payment.review.refund": lazy_pgettext("staff action", "review: refund"),
        "payment.review.attach": lazy_pgettext("staff action", "review: attach to an invoice"),
        "payment.review.dismiss": lazy_pgettext("staff action", "review: dismiss"),
        "job.requeue": lazy_pgettext("staff action", "requeue the job"),
        "mail.resend": lazy_pgettext("staff action", "send the mail again"),
        "mail.rebuild": lazy_pgettext("staff action", "build the mail again"),
        "plan.create": lazy_pgettext("staff action", "create a plan"),
        "plan.update": lazy_pgettext("staff action", "edit a plan"),
        "plan.archive": lazy_pgettext("staff action", "archive a plan"),
        "plan.restore": lazy_pgettext("staff action", "put a plan back on sale"),
        "plan.delete": lazy_pgettext("staff action", "delete a plan"),
        "provider.set_default": lazy_pgettext("staff action", "choose the provider of a currency"),
        "seller.update": lazy_pgettext("staff action", "edit the seller details"),
        "receipt.retry": lazy_pgettext("staff action", "ask the till again"),
        "advance_test_clock": lazy_pgettext("staff action", "move the test clock"),
    },
    # When a cancellation or plan change takes effect (an action's details.when).
    "when": {
        "now": lazy_pgettext("takes effect", "now"),
        "period_end": lazy_pgettext("takes effect", "at the period end"),
    },
    # Which way a plan change goes (portal.billing.proration).
    "plan change": {
        "upgrade": lazy_pgettext("plan change", "upgrade"),
        "downgrade": lazy_pgettext("plan change", "downgrade"),
        "switch": lazy_pgettext("plan change", "switch"),
    },
    # What a timeline entry is about (transitions.entity_type).
    "entity": {
        "subscription": lazy_pgettext("entity", "subscription"),
        "invoice": lazy_pgettext("entity", "invoice"),
        "payment": lazy_pgettext("entity", "payment"),
        "refund": lazy_pgettext("entity", "refund"),
        "receipt": lazy_pgettext("entity", "receipt"),
        "customer": lazy_pgettext("entity", "customer"),
    },
    # Who did it, when not a staff member or a customer (transitions.actor's kind before ':').
    "actor": {
        "provider": lazy_pgettext("actor", "provider"),
        "job": lazy_pgettext("actor", "job"),
        "api": lazy_pgettext("actor", "API client"),
        "bus": lazy_pgettext("actor", "bus command"),
        "unsubscribe-link": lazy_pgettext("actor", "unsubscribe link"),
    },
    # The events of the subscription lifecycle (portal.machines), as the timeline and the lifecycle name them.
    "subscription event": {
        "activate": lazy_pgettext("subscription event", "activate"),
        "apply_price_change": lazy_pgettext("subscription event", "apply price change"),
        "cancel": lazy_pgettext("subscription event", "cancel"),
        "change_plan": lazy_pgettext("subscription event", "change plan"),
        "expire": lazy_pgettext("subscription event", "expire"),
        "extend": lazy_pgettext("subscription event", "extend"),
        "mark_past_due": lazy_pgettext("subscription event", "mark past due"),
        "pause": lazy_pgettext("subscription event", "pause"),
        "refuse_trial": lazy_pgettext("subscription event", "refuse trial"),
        "remove_card": lazy_pgettext("subscription event", "remove card"),
        "renew": lazy_pgettext("subscription event", "renew"),
        "replace_card": lazy_pgettext("subscription event", "replace card"),
        "resume": lazy_pgettext("subscription event", "resume"),
        "schedule_cancel": lazy_pgettext("subscription event", "schedule cancel"),
        "schedule_pause": lazy_pgettext("subscription event", "schedule pause"),
        "schedule_plan_change": lazy_pgettext("subscription event", "schedule plan change"),
        "schedule_price_change": lazy_pgettext("subscription event", "schedule price change"),
        "start_trial": lazy_pgettext("subscription event", "start trial"),
        "undo_cancel": lazy_pgettext("subscription event", "undo cancel"),
        "unschedule_pause": lazy_pgettext("subscription event", "unschedule pause"),
        "unschedule_plan_change": lazy_pgettext("subscription event", "unschedule plan change"),
    },
    # The events of the invoice lifecycle (portal.machines), as the timeline and the lifecycle name them.
    "invoice event": {
        "pay": lazy_pgettext("invoice event", "pay"),
        "record_failed_attempt": lazy_pgettext("invoice event", "record failed attempt"),
        "refund_fully": lazy_pgettext("invoice event", "refund fully"),
        "refund_partially": lazy_pgettext("invoice event", "refund partially"),
        "void_invoice": lazy_pgettext("invoice event", "void invoice"),
    },
    # The events of the payment lifecycle (portal.machines), as the timeline and the lifecycle name them.
    "payment event": {
        "attach_to_invoice": lazy_pgettext("payment event", "attach to invoice"),
        "authorize": lazy_pgettext("payment event", "authorize"),
        "complete": lazy_pgettext("payment event", "complete"),
        "confirm": lazy_pgettext("payment event", "confirm"),
        "decline": lazy_pgettext("payment event", "decline"),
        "dismiss_review": lazy_pgettext("payment event", "dismiss review"),
        "hold_for_review": lazy_pgettext("payment event", "hold for review"),
        "record_refund": lazy_pgettext("payment event", "record refund"),
        "refund_held": lazy_pgettext("payment event", "refund held"),
        "void": lazy_pgettext("payment event", "void"),
    },
    # The events of the refund lifecycle (portal.machines), as the timeline and the lifecycle name them.
    "refund event": {
        "fail": lazy_pgettext("refund event", "fail"),
        "succeed": lazy_pgettext("refund event", "succeed"),
    },
    # The events of the receipt lifecycle (portal.machines), as the timeline and the lifecycle name them.
    "receipt event": {
        "fail": lazy_pgettext("receipt event", "fail"),
        "register": lazy_pgettext("receipt event", "register"),
        "retry": lazy_pgettext("receipt event", "retry"),
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
def action_name(code: str) -> Markup:
    """A staff action's name in the page's language, its stored code kept in the title and data-action."""
    return Markup('<span class="action-name" data-action="{0}" title="{0}">{1}</span>').format(
        code, code_label("action", code))


@bp.app_template_global()
def translated(message) -> str:
    """A billing message (portal.billing.errors.Message) in the page's language, from the msgid it remembers and
    its values, a stored status read as its word; any other text as it is (the catalogue may not have it)."""
    if message is None:
        return ""
    template = getattr(message, "template", None)
    if template is None:
        return str(message)
    return gettext(template, **{name: _read(value) for name, value in message.values.items()})


ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _read(value):
    """A value inside a billing message as the page writes it: a stored status as its word, a day (jobs write
    them as ISO dates, "2026-12-31") in the page's one date style."""
    if isinstance(value, Status):
        return status_label(value.kind, value)
    if isinstance(value, str) and ISO_DAY.fullmatch(value):
        from portal.templating import page_date

        return page_date(date.fromisoformat(value))
    return value


@bp.app_template_global()
def action_result(details: dict | None) -> str:
    """A staff action's result (written by its job in English) in the page's language, from the msgid and values
    the job kept beside it; a result without them (older rows, a passing error) as it was written."""
    details = details or {}
    stored = details.get("result_message")
    if not isinstance(stored, dict) or not isinstance(stored.get("msgid"), str):
        return details.get("result") or ""
    values = {}
    for name, value in (stored.get("values") or {}).items():
        values[name] = Status(value["kind"], value["status"]) if isinstance(value, dict) else value
    try:
        return translated(Message(stored["msgid"], values))
    except (KeyError, TypeError, ValueError):
        return details.get("result") or ""
