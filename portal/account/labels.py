"""Words for billing states and provider decline reasons in the reader's language. The reason texts come
from the providers' adapters (English) and are translated by their English wording."""
from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l

from portal.billing.payments import decline_message as english_decline_message

SUBSCRIPTION_STATUS = {
    "pending": _l("Awaiting payment"),
    "trialing": _l("Free trial"),
    "active": _l("Active"),
    "past_due": _l("Payment failed"),
    "paused": _l("Paused"),
    "canceled": _l("Canceled"),
    "expired": _l("Expired"),
}

# Why a subscription ended (portal/account/service.py ENDINGS).
ENDING = {
    "checkout_unpaid": _l("The payment was not made within 24 hours."),
    "checkout_canceled": _l("The checkout was canceled before payment."),
    "auto_renew_off": _l("Auto-renew was off, so it ended with the paid period."),
    "payment_failed": _l("The renewal payment failed and the retries ran out."),
    "by_customer": _l("You canceled it."),
    "trial_canceled": _l("You canceled the free trial."),
    "by_staff": _l("Our support team canceled it."),
    "by_platform": _l("It was canceled through the cinema's service."),
}

INVOICE_STATUS = {"open": _l("Due"), "paid": _l("Paid"), "void": _l("Void"), "refunded": _l("Refunded")}
INVOICE_KIND = {
    "initial": _l("First payment"),
    "renewal": _l("Renewal"),
    "repay": _l("Repayment"),
    "grant": _l("Complimentary"),
    "verification": _l("Card check"),
    "card_check": _l("Card check"),
    "proration": _l("Plan change"),
}
FIRST_AFTER_TRIAL = _l("First payment after the trial")
PAYMENT_STATUS = {
    "pending": _l("Processing"),
    "authorized": _l("Authorised"),
    "completed": _l("Paid"),
    "declined": _l("Declined"),
    "voided": _l("Released"),
}
REFUND_STATUS = {"pending": _l("Refund in progress"), "succeeded": _l("Refunded"), "failed": _l("Refund failed")}


def _(text):  # marks a string for extraction; translated at render time by gettext(text)
    return text


# Every customer message of the adapters (portal.providers.reason_codes, the neutral CATEGORY_MESSAGES of
# portal.providers.base), so the catalogue carries their translations.
DECLINE_MESSAGES = (
    _("Payment declined. Please try again or use another card"),
    _("Payment declined by your bank"),
    _("Invalid card number"),
    _("Card declined. Contact your bank or use another card"),
    _("Insufficient funds"),
    _("Card expired"),
    _("This card cannot be used for this payment"),
    _("Incorrect CVV code"),
    _("Your bank did not answer in time. Please try again later"),
    _("Payment system error. Please try again later"),
    _("The payment could not be processed. Please try again later"),
    _("3-D Secure verification failed"),
)


def decline_message(english: str | None) -> str:
    return gettext(english) if english else ""


def payment_decline(payment) -> str:
    """Why a payment was declined, in plain words, from its reason code."""
    return decline_message(english_decline_message(payment))


def per_interval(unit: str, count: int = 1) -> str:
    """"per month", "every 3 months" — the plan's billing period."""
    if count == 1:
        return {"day": gettext("per day"), "week": gettext("per week"), "month": gettext("per month"),
                "year": gettext("per year")}.get(unit, unit)
    return {
        "day": ngettext("every %(num)d day", "every %(num)d days", count),
        "week": ngettext("every %(num)d week", "every %(num)d weeks", count),
        "month": ngettext("every %(num)d month", "every %(num)d months", count),
        "year": ngettext("every %(num)d year", "every %(num)d years", count),
    }.get(unit, unit)


def trial_days(days: int) -> str:
    return ngettext("%(num)d day free", "%(num)d days free", days)


def label(table: dict, key: str) -> str:
    return str(table.get(key, key))


def invoice_kind(invoice) -> str:
    """What an invoice is for, in the customer's words: the charge when a trial ends is the first payment, not a
    renewal of anything paid."""
    sub = invoice.subscription
    if invoice.kind == "renewal" and sub.trial_end is not None and invoice.period_start == sub.trial_end:
        return str(FIRST_AFTER_TRIAL)
    return label(INVOICE_KIND, invoice.kind)
