"""The card a subscription renews with, and replacing it at any time: the customer proves a new card in the
widget with the smallest authorisation (a `card_check` invoice, voided at once, never captured, as for a
trial), and the proven card becomes the subscription's renewal card. The old card stays on file, unused."""
import calendar
from datetime import UTC, datetime

from flask_babel import gettext
from sqlalchemy import select

from portal import clock
from portal.billing.checkout import CHECKOUT_LIFETIME, VERIFICATION_AMOUNT, customers_language
from portal.billing.errors import N_, NotAllowed, Status
from portal.extensions import db
from portal.machines import atomic, fire, lock
from portal.models import Invoice, PaymentMethod, Subscription
from portal.models.subscription import LIVE_STATUSES

# Every live subscription, paused included: a paused customer fixes the card before the resume charges it.
REPLACEABLE = LIVE_STATUSES


def start_card_replacement(sub: Subscription) -> Invoice:
    """The open card check of this subscription, made once and reused while it lives. Call in a transaction."""
    sub = lock(Subscription, sub.id)
    if sub.status not in REPLACEABLE:
        raise NotAllowed(N_("subscription %(id)s is %(status)s: only a live subscription's card can be replaced",
                            id=sub.id, status=Status("subscription", sub.status)))
    now = clock.now()
    check = db.session.scalar(select(Invoice).where(
        Invoice.subscription_id == sub.id, Invoice.kind == "card_check", Invoice.status == "open",
        Invoice.created_at > now - CHECKOUT_LIFETIME).order_by(Invoice.id.desc()).limit(1))
    if check is None:
        with customers_language(sub.customer) as locale:
            description = gettext("Card check for the %(plan)s subscription", plan=sub.plan.name_in(locale))
        check = Invoice(subscription_id=sub.id, customer_id=sub.customer_id, kind="card_check", status="open",
                        amount=VERIFICATION_AMOUNT, currency=sub.currency, created_at=now,
                        description=description)
        db.session.add(check)
        db.session.flush()
    return check


def replace_card(sub: Subscription, card: PaymentMethod, *, actor: str, cause: str) -> None:
    """A proven card becomes the renewal card: a transition on the subscription's timeline."""
    if sub.payment_method_id != card.id:
        fire(sub, "replace_card", actor=actor, cause=cause, payment_method=card)


def remove_card(sub_id: int, payment_method_id: int, *, actor: str, cause: str) -> None:
    """Take the renewal card off a subscription (staff: reported lost or stolen). Safe to repeat: a second run
    finds the card gone, or another card saved since, and changes nothing."""
    with atomic():
        sub = lock(Subscription, sub_id)
        if sub.payment_method_id == payment_method_id:
            fire(sub, "remove_card", actor=actor, cause=cause)


def card_expiry(card: PaymentMethod | None) -> datetime | None:
    """The end of the card's last valid month, from its "MM/YY" expiry; None when unknown or unreadable."""
    month, _, year = (card.card_exp or "").partition("/") if card is not None else ("", "", "")
    if not (month.isdigit() and year.isdigit() and 1 <= int(month) <= 12 and len(year) in (2, 4)):
        return None
    full_year = int(year) + (2000 if len(year) == 2 else 0)
    last_day = calendar.monthrange(full_year, int(month))[1]
    return datetime(full_year, int(month), last_day, 23, 59, 59, tzinfo=UTC)


def card_expires_before(sub: Subscription, moment: datetime | None) -> bool:
    """Whether the saved card will have expired by `moment` (the next charge): time to replace it."""
    expiry = card_expiry(sub.payment_method)
    return expiry is not None and moment is not None and expiry < moment
