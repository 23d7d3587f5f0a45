"""The billing mails: what each domain event tells the customer, built by a job after the event's commit
(portal/mail/events.py), one mail per event and customer (the purpose and subject key are unique).

Receipts, failed payments and changes of the subscription are always sent; reminders only while the
customer keeps them on; nothing at all when the platform said it mails the customer itself."""
from datetime import datetime

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from portal.billing import cards
from portal.billing.payments import decline_message
from portal.billing.prices import renewal_amount
from portal.extensions import db
from portal.mail import SUBJECTS, link_to, mail_locale, queue_mail
from portal.mail.content import Letter, Reader, time_zone
from portal.mail.links import pay_link, unsubscribe_link
from portal.models import Invoice, OutboxMessage, OutgoingMail, Payment, PaymentMethod, Plan, Refund, Subscription, User
from portal.models.invoice import NO_RECEIPT_KINDS
from portal.providers import CATEGORY_MESSAGES, DeclineCategory

GENERIC_DECLINE = CATEGORY_MESSAGES[DeclineCategory.OTHER]

# Invoices dunning retries: their declines get the failed-payment mail (a decline in the widget is seen
# on the page it happened on).
DUNNING_KINDS = ("renewal", "repay")
REMINDERS = ("trial_ending", "renewal_upcoming", "card_expiring")


def send(purpose: str, key: str, user: User | None, letter_of, *, reminder: bool = False):
    """Write `letter_of(reader)` to the customer in their language and zone, once per purpose and key."""
    if user is None or not user.email or user.anonymized_at is not None or not user.billing_mail:
        return None
    if reminder and not user.reminder_mails:
        return None
    locale = mail_locale(user.locale)
    with force_locale(locale):
        letter = letter_of(Reader(locale, time_zone(user)))
    return queue_mail(purpose, f"{key}:user:{user.id}", to=user.email, locale=locale, user_id=user.id,
                      unsubscribe_url=unsubscribe_link(user) if reminder else None, template="billing",
                      letter=letter)


def _card(last_four: str | None) -> str:
    return f"•••• {last_four}" if last_four else ""


def _next_charge(sub: Subscription, r: Reader) -> tuple[str, str] | None:
    if sub.status not in ("trialing", "active") or sub.cancel_at_period_end or sub.current_period_end is None \
            or sub.pause_starts_at is not None:
        return None
    return _("Next payment"), _("%(amount)s on %(date)s", amount=_charge(sub, r),
                                date=r.date(sub.current_period_end))


def _my_subscription() -> tuple[str, str]:
    return _("Open my subscription"), link_to("account.subscription")


# --- payments ------------------------------------------------------------------------------------------


def receipt(payment: Payment):
    invoice = payment.invoice
    if invoice is None or invoice.kind in NO_RECEIPT_KINDS or payment.amount == 0:
        return None
    sub = invoice.subscription
    plan = invoice.plan or sub.plan

    def letter(r: Reader) -> Letter:
        facts = [(_("Amount"), r.money(payment.amount, payment.currency)),
                 (_("Paid on"), r.date(invoice.paid_at or payment.created_at)), (_("Plan"), r.plan(plan))]
        if invoice.period_start is not None and invoice.period_end is not None:
            facts.append((_("Period"), f"{r.date(invoice.period_start)} – {r.date(invoice.period_end)}"))
        if payment.card_last_four:
            facts.append((_("Card"), _card(payment.card_last_four)))
        facts.append((_("Invoice"), _("No. %(number)s", number=invoice.number)))
        if (upcoming := _next_charge(sub, r)) is not None:
            facts.append(upcoming)
        return Letter([_("Thank you! We received your payment for the %(plan)s subscription.", plan=r.plan(plan))],
                      facts, (_("Open the receipt"), link_to("account.receipt", payment_id=payment.id)))

    return send("payment_receipt", f"payment:{payment.id}", invoice.customer, letter)


def failed_payment(invoice: Invoice | None):
    """After a failed dunning charge: why, when the next try is, and a pay link for this one invoice.
    Keyed by the invoice's attempt, so the decline and the past-due event of one try make one mail."""
    if invoice is None or invoice.status != "open" or invoice.kind not in DUNNING_KINDS or not invoice.attempt_count:
        return None
    sub = invoice.subscription
    if sub.status != "past_due":
        return None
    declined = db.session.scalar(select(Payment).where(Payment.invoice_id == invoice.id, Payment.status == "declined")
                                 .order_by(Payment.id.desc()).limit(1))
    # Worded by the adapter of the provider that declined it (a decline always leaves its payment).
    reason = decline_message(declined) if declined is not None else GENERIC_DECLINE
    last_four = declined.card_last_four if declined is not None else None
    # The provider's own words for the card holder (CloudPayments' CardHolderMessage), quoted as given.
    holder_message = declined.card_holder_message if declined is not None else None

    def letter(r: Reader) -> Letter:
        amount = r.money(invoice.amount, invoice.currency)
        paragraphs = [_("We could not charge %(amount)s for your %(plan)s subscription.", amount=amount,
                        plan=r.plan(sub.plan)),
                      _("Your bank's answer: %(reason)s.", reason=_(reason))]
        if holder_message and not _same_words(holder_message, _(reason)):
            paragraphs.append(_("The payment system's message for you: “%(message)s”", message=holder_message))
        retry, ends = invoice.next_attempt_at, invoice.dunning_ends_at
        if retry is not None and ends is not None and retry >= ends:
            paragraphs.append(_("We will try once more on %(when)s. This is the last try: if it fails, your access "
                                "ends then, on %(date)s.", when=r.moment(retry), date=r.date(ends)))
        elif retry is not None:
            paragraphs.append(_("We will try again on %(when)s. You can keep watching meanwhile.",
                                when=r.moment(retry)))
        elif ends is not None:
            paragraphs.append(_("We will not charge this card again by ourselves. Pay by %(date)s, or your access "
                                "ends then.", date=r.date(ends)))
        paragraphs.append(_("You can pay now, with this card or another one:"))
        facts = [(_("To pay"), amount), (_("Plan"), r.plan(sub.plan))]
        if last_four:
            facts.append((_("Card"), _card(last_four)))
        return Letter(paragraphs, facts, (_("Pay %(amount)s", amount=amount), pay_link(invoice)),
                      [_("The button opens the payment page of this invoice only, without your password, for "
                         "%(days)d days.", days=7)])

    return send("payment_failed", f"invoice:{invoice.id}:attempt:{invoice.attempt_count}", invoice.customer, letter)


def payment_request(invoice: Invoice):
    """A checkout or a card check opened for the customer by the platform or by staff: what it is for and a
    pay link to its page (the customer has no page of ours open). One mail per invoice."""
    sub = invoice.subscription
    plan = invoice.plan or sub.plan
    link_note = _("The button opens the payment page of this invoice only, without your password, for %(days)d "
                  "days.", days=7)
    if invoice.kind == "card_check":
        card = db.session.get(PaymentMethod, sub.payment_method_id) if sub.payment_method_id else None

        def letter(r: Reader) -> Letter:
            facts = [(_("Plan"), r.plan(plan))]
            if card is not None and card.card_last_four:
                facts.append((_("Card now"), _card(card.card_last_four)))
            return Letter([_("To change the card your %(plan)s subscription renews with, enter the new card on the "
                             "card check page.", plan=r.plan(plan)),
                           _("We hold %(amount)s on it to check it and release it at once: nothing is charged.",
                             amount=r.money(invoice.amount, invoice.currency))],
                          facts, (_("Replace my card"), pay_link(invoice)), [link_note])

        return send("card_check_request", f"invoice:{invoice.id}", invoice.customer, letter)

    def letter(r: Reader) -> Letter:
        if invoice.kind == "verification":
            paragraphs = [_("Your free trial of the %(plan)s subscription is ready to start.", plan=r.plan(plan)),
                          _("We hold %(amount)s on your card to check it and release it at once: nothing is "
                            "charged until the trial ends.", amount=r.money(invoice.amount, invoice.currency))]
            action = _("Start the free trial")
        else:
            amount = r.money(invoice.amount, invoice.currency)
            paragraphs = [_("Your %(plan)s subscription is ready: pay %(amount)s to start it.", plan=r.plan(plan),
                            amount=amount)]
            action = _("Pay %(amount)s", amount=amount)
        return Letter(paragraphs, [(_("Plan"), r.plan(plan))], (action, pay_link(invoice)), [link_note])

    return send("checkout_request", f"invoice:{invoice.id}", invoice.customer, letter)


def _same_words(one: str, other: str) -> bool:
    """Whether the provider's message says what the bank's answer already reads (then it is not repeated)."""
    def words(text):
        return " ".join("".join(c for c in text.casefold() if c.isalnum() or c.isspace()).split())
    return words(one) == words(other)


def open_dunning_invoice(sub: Subscription) -> Invoice | None:
    return db.session.scalar(select(Invoice).where(Invoice.subscription_id == sub.id, Invoice.status == "open",
                                                   Invoice.kind.in_(DUNNING_KINDS)).order_by(Invoice.id.desc()).limit(1))


def refund_succeeded(refund: Refund):
    payment = refund.payment
    invoice = payment.invoice
    customer = invoice.customer if invoice is not None else db.session.get(User, payment.customer_id)
    paid_on = (invoice.paid_at if invoice is not None else None) or payment.created_at

    def letter(r: Reader) -> Letter:
        facts = [(_("Refund"), r.money(refund.amount, refund.currency)),
                 (_("Payment"), _("%(amount)s on %(date)s", amount=r.money(payment.amount, payment.currency),
                                  date=r.date(paid_on)))]
        if payment.card_last_four:
            facts.append((_("Card"), _card(payment.card_last_four)))
        return Letter([_("We have refunded %(amount)s to the card you paid with.",
                         amount=r.money(refund.amount, refund.currency))], facts,
                      (_("Open the receipt"), link_to("account.receipt", payment_id=payment.id)),
                      [_("Banks usually show a refund within a few days; some take up to 30 days.")])

    return send("refund_succeeded", f"refund:{refund.id}", customer, letter)


# --- the subscription ----------------------------------------------------------------------------------


def subscription_renewed(sub: Subscription, period_end: datetime | None):
    """A period extended with nothing paid now (a grant): a period that was paid for gets its receipt."""
    if period_end is None:
        return None
    paid = db.session.scalar(select(Invoice.id).where(Invoice.subscription_id == sub.id, Invoice.amount > 0,
                                                      Invoice.status.in_(("paid", "refunded")),
                                                      Invoice.period_end == period_end).limit(1))
    if paid is not None:
        return None

    def letter(r: Reader) -> Letter:
        facts = [(_("Plan"), r.plan(sub.plan)), (_("Access until"), r.date(period_end))]
        return Letter([_("Your %(plan)s subscription is extended until %(date)s, at no charge.", plan=r.plan(sub.plan),
                         date=r.date(period_end))], facts, _my_subscription())

    return send("subscription_renewed", f"subscription:{sub.id}:period:{period_end.isoformat()}", sub.customer,
                letter)


def subscription_canceled(sub: Subscription, event_id: int):
    if sub.current_period_start is None:  # a checkout that was never paid: nothing began, nothing to tell
        return None

    def letter(r: Reader) -> Letter:
        ended = sub.ended_at or sub.canceled_at or sub.current_period_end
        return Letter([_("Your %(plan)s subscription is canceled. Your access ended on %(date)s.",
                         plan=r.plan(sub.plan),
                         date=r.date(ended)),
                       _("Thank you for watching with us. You can subscribe again at any time.")],
                      action=(_("Choose a plan"), link_to("catalog.index")),
                      notes=[_("If a refund is due to you, a separate mail confirms it.")])

    return send("subscription_canceled", f"event:{event_id}", sub.customer, letter)


def subscription_expired(sub: Subscription, event_id: int):
    unpaid = db.session.scalar(select(Invoice.id).where(Invoice.subscription_id == sub.id, Invoice.status == "void",
                                                        Invoice.kind.in_(DUNNING_KINDS), Invoice.attempt_count > 0)
                               .limit(1))

    def letter(r: Reader) -> Letter:
        ended = r.date(sub.ended_at or sub.current_period_end)
        why = (_("Your %(plan)s subscription ended on %(date)s: the renewal payment did not go through and the "
                 "retries ran out.", plan=r.plan(sub.plan), date=ended) if unpaid is not None
               else _("Your %(plan)s subscription ended on %(date)s.", plan=r.plan(sub.plan), date=ended))
        return Letter([why, _("You can subscribe again at any time; nothing is charged until you do.")],
                      action=(_("Choose a plan"), link_to("catalog.index")))

    return send("subscription_expired", f"event:{event_id}", sub.customer, letter)


def subscription_plan_changed(sub: Subscription, left: dict | None, event_id: int):
    """`left`: the plan the subscription left, as the event names it (in each language, or one name)."""
    def letter(r: Reader) -> Letter:
        previous = ((left.get("names") or {}).get(r.locale) or left.get("name")) if left else None
        text = (_("Your subscription is now on the %(plan)s plan (it was %(previous)s).", plan=r.plan(sub.plan),
                  previous=previous) if previous else _("Your subscription is now on the %(plan)s plan.",
                                                        plan=r.plan(sub.plan)))
        facts = [(_("Plan"), r.plan(sub.plan)), (_("Price"), r.money(sub.amount, sub.currency))]
        if (upcoming := _next_charge(sub, r)) is not None:
            facts.append(upcoming)
        return Letter([text], facts, _my_subscription())

    return send("subscription_plan_changed", f"event:{event_id}", sub.customer, letter)


def subscription_paused(sub: Subscription, event_id: int):
    if sub.resumes_at is None:
        return None

    def letter(r: Reader) -> Letter:
        return Letter([_("Your %(plan)s subscription is paused until %(date)s: nothing is charged, and films are not "
                         "available while it is paused.", plan=r.plan(sub.plan), date=r.date(sub.resumes_at)),
                       _("It resumes by itself on %(date)s, and your card is charged for the new period then. You "
                         "can resume earlier on your subscription page.", date=r.date(sub.resumes_at))],
                      [(_("Paused until"), r.date(sub.resumes_at))], _my_subscription())

    return send("subscription_paused", f"event:{event_id}", sub.customer, letter)


def price_change(sub: Subscription, scheduled: dict, event_id: int):
    """The notice of a price move: the new price and the renewal that first bills it (portal/billing/prices.py)."""
    from portal.billing.prices import first_renewal_from

    if not scheduled or sub.current_period_end is None:
        return None
    effective_from = datetime.fromisoformat(scheduled["effective_from"])
    renewal = first_renewal_from(sub, effective_from)

    def letter(r: Reader) -> Letter:
        new, now = r.money(scheduled["amount"], scheduled["currency"]), r.money(sub.amount, sub.currency)
        return Letter([_("The price of your %(plan)s subscription changes to %(new)s from the payment on %(date)s. "
                         "Until then you keep paying %(now)s.", plan=r.plan(sub.plan), new=new, date=r.date(renewal),
                         now=now),
                       _("If you would rather not continue at the new price, turn auto-renew off on your "
                         "subscription page before %(date)s: nothing more is charged.", date=r.date(renewal))],
                      [(_("Price now"), now), (_("New price"), new), (_("From the payment on"), r.date(renewal))],
                      _my_subscription())

    return send("price_change", f"event:{event_id}", sub.customer, letter)


# --- reminders -----------------------------------------------------------------------------------------


def still_renews(sub: Subscription, status: tuple[str, ...]) -> bool:
    """Whether a reminder still applies: the subscription renews at this period's end."""
    return (sub.status in status and not sub.cancel_at_period_end and sub.pause_starts_at is None
            and sub.current_period_end is not None)


def reminder(kind: str, sub: Subscription, period_end: str):
    if kind == "trial_ending" and still_renews(sub, ("trialing",)) \
            or kind == "renewal_upcoming" and still_renews(sub, ("active",)):
        letter = _upcoming_charge(sub, *UPCOMING[kind])
    elif kind == "card_expiring" and still_renews(sub, ("trialing", "active")) \
            and cards.card_expires_before(sub, sub.current_period_end):
        letter = _card_expiring(sub)
    else:
        return None
    return send(kind, f"subscription:{sub.id}:period:{period_end}", sub.customer, letter, reminder=True)


def _charge(sub: Subscription, r: Reader) -> str:
    """What the renewal at the period's end charges: the plan changed to, or a price move due by then."""
    return r.money(renewal_amount(sub), sub.currency)


def _card_fact(sub: Subscription) -> list[tuple[str, str]]:
    card = sub.payment_method
    return [(_("Card"), _card(card.card_last_four))] if card is not None and card.card_last_four else []


def _upcoming_charge(sub, opening, then, label):
    """A reminder of the charge at the period's end: `opening(plan, date)`, `then(amount)` and the fact's
    `label()` are called in the reader's language."""
    def letter(r: Reader) -> Letter:
        when, amount = r.date(sub.current_period_end), _charge(sub, r)
        return Letter([opening(r.plan(sub.plan), when), then(amount)],
                      [(label(), _("%(amount)s on %(date)s", amount=amount, date=when)), *_card_fact(sub)],
                      _my_subscription())
    return letter


# What the reminders of an upcoming charge say: the opening, what is charged, the fact's label.
UPCOMING = {
    "trial_ending": (
        lambda plan, date: _("Your free trial of %(plan)s ends on %(date)s.", plan=plan, date=date),
        lambda amount: _("Then we charge %(amount)s to your saved card, and again every period, unless you turn "
                         "auto-renew off before.", amount=amount),
        lambda: _("First payment")),
    "renewal_upcoming": (
        lambda plan, date: _("Your yearly %(plan)s subscription renews on %(date)s.", plan=plan, date=date),
        lambda amount: _("We will charge %(amount)s to your saved card. To stop it, turn auto-renew off before "
                         "that day.", amount=amount),
        lambda: _("Payment")),
}


def _card_expiring(sub):
    def letter(r: Reader) -> Letter:
        card = sub.payment_method
        return Letter([_("The card ending in %(digits)s that pays for %(plan)s expires before the next payment on "
                         "%(date)s.", digits=card.card_last_four or "", plan=r.plan(sub.plan),
                         date=r.date(sub.current_period_end)),
                       _("Add your new card so that watching goes on without a break.")],
                      [(_("Card"), _card(card.card_last_four)), (_("Expires"), card.card_exp or "")],
                      (_("Replace my card"), link_to("account.subscription")))
    return letter


# --- which event says what -----------------------------------------------------------------------------


class RowGone(LookupError):
    """An event names a row that is not there (any more): its mail cannot be written, and staff must know."""


def _row(model, row_id):
    row = db.session.get(model, row_id) if row_id is not None else None
    if row is None:
        raise RowGone(f"{model.__tablename__} row {row_id} that the event names does not exist")
    return row


def rows_for(events: list[OutboxMessage]) -> list:
    """Read in bulk the rows the builders of these events read one by one (payments, refunds, invoices,
    subscriptions, their plans, cards and customers), a statement per table: the builders then find them in
    the session. Returns them; the session keeps a row only while something refers to it."""
    ids = {key: {event.payload.get(key) for event in events} - {None}
           for key in ("payment_id", "refund_id", "invoice_id", "subscription_id")}
    rows: list = []

    def load(model, wanted):
        wanted = wanted - {None}
        found = db.session.scalars(select(model).where(model.id.in_(wanted))).all() if wanted else []
        rows.extend(found)
        return found

    refunds = load(Refund, ids["refund_id"])
    payments = load(Payment, ids["payment_id"] | {refund.payment_id for refund in refunds})
    invoices = load(Invoice, ids["invoice_id"] | {payment.invoice_id for payment in payments})
    subs = load(Subscription, ids["subscription_id"] | {invoice.subscription_id for invoice in invoices})
    load(Plan, {sub.plan_id for sub in subs} | {sub.scheduled_plan_id for sub in subs}
         | {invoice.plan_id for invoice in invoices})
    load(PaymentMethod, {sub.payment_method_id for sub in subs})
    load(User, {sub.customer_id for sub in subs} | {invoice.customer_id for invoice in invoices})
    return rows


def mails_for(event: OutboxMessage):
    """Build the mails one outbox event causes (none for most of them); RowGone when a row it names is gone."""
    data, key = event.payload, event.routing_key
    if key == "payment.succeeded":
        return receipt(_row(Payment, data["payment_id"]))
    if key == "payment.failed":
        return failed_payment(db.session.get(Invoice, data["invoice_id"]) if data.get("invoice_id") else None)
    if key == "refund.succeeded":
        return refund_succeeded(_row(Refund, data["refund_id"]))
    if key not in PURPOSES:
        return None
    sub = _row(Subscription, data["subscription_id"])
    kind = key.split(".", 1)[1]
    if kind == "past_due":
        return failed_payment(open_dunning_invoice(sub))
    if kind == "renewed":
        end = data.get("current_period_end")
        return subscription_renewed(sub, datetime.fromisoformat(end) if end else None)
    if kind in REMINDERS:
        return reminder(kind, sub, data.get("current_period_end") or "")
    builders = {"canceled": subscription_canceled, "expired": subscription_expired, "paused": subscription_paused}
    if kind in builders:
        return builders[kind](sub, event.id)
    if kind == "plan_changed":
        return subscription_plan_changed(sub, data.get("previous_plan"), event.id)
    if kind == "price_change_scheduled":
        return price_change(sub, data.get("scheduled_price"), event.id)
    return None


# The mail each mailing event writes (what a build-failure record says it was meant to be).
PURPOSES = {
    "payment.succeeded": "payment_receipt", "payment.failed": "payment_failed", "refund.succeeded": "refund_succeeded",
    "subscription.past_due": "payment_failed", "subscription.renewed": "subscription_renewed",
    "subscription.canceled": "subscription_canceled", "subscription.expired": "subscription_expired",
    "subscription.paused": "subscription_paused", "subscription.plan_changed": "subscription_plan_changed",
    "subscription.price_change_scheduled": "price_change",
    **{f"subscription.{kind}": kind for kind in REMINDERS},
}


def _customer_of(event: OutboxMessage) -> User | None:
    """The customer an event's mail was for, from whatever the event still names."""
    data = event.payload or {}
    customer_id = (data.get("customer") or {}).get("id") if isinstance(data.get("customer"), dict) else None
    for model, key, column in ((Subscription, "subscription_id", "customer_id"),
                               (Invoice, "invoice_id", "customer_id"), (Payment, "payment_id", "customer_id")):
        if customer_id is not None:
            break
        row = db.session.get(model, data[key]) if isinstance(data.get(key), int) else None
        customer_id = getattr(row, column, None) if row is not None else None
    return db.session.get(User, customer_id) if customer_id is not None else None


def build_failure_record(event: OutboxMessage) -> OutgoingMail:
    """A mail row standing for the mails of `event` that could not be built: no bodies, never delivered,
    listed with the customer's mails (when the event still names them) and on the operations page."""
    purpose = PURPOSES.get(event.routing_key, "payment_receipt")
    customer = _customer_of(event)
    locale = mail_locale(customer.locale if customer is not None else None)
    with force_locale(locale):
        subject = str(SUBJECTS[purpose])
    return OutgoingMail(purpose=purpose, subject_key=f"event:{event.id}:build", event_id=event.id,
                        to_address=(customer.email or "") if customer is not None else "",
                        user_id=customer.id if customer is not None else None, locale=locale, subject=subject,
                        text_body="", html_body="", status="unbuilt", attempts=0,
                        next_attempt_at=event.created_at)
