"""Free trials: one per customer, and one per card. A card is known by a fingerprint of what the provider
tells about it (first six and last four digits, expiry, issuer), never by its number: the same card cannot
start a second trial on another account. A checkout whose trial is refused is paid from the first day."""
import hashlib

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from portal import clock
from portal.extensions import db
from portal.machines import fire
from portal.models import Invoice, Plan, Subscription, TrialCard, User

# Why a trial was refused (Subscription.trial_refusal): this card had a trial on another account.
CARD_USED = "card_used"
# Every reason a trial can be refused for: what the API and the bus may say in `trial_refusal`.
TRIAL_REFUSALS = (CARD_USED,)


def trial_available(customer: User | None, plan: Plan) -> bool:
    """A plan's free trial is offered once per customer: whoever has had a trial of any plan (ended,
    cancelled or converted) pays from the first day."""
    if not plan.trial_days:
        return False
    if customer is None:
        return True
    return db.session.scalar(select(Subscription.id).where(
        Subscription.customer_id == customer.id, Subscription.trial_end.is_not(None)).limit(1)) is None


def card_fingerprint(card) -> str | None:
    """What identifies a card across accounts, from a transaction's card facts; None when the provider did
    not say enough (then only the one-trial-per-customer rule applies)."""
    known = (card.card_first_six, card.card_last_four, card.card_exp)
    if not all(known):
        return None
    issuer = " ".join((getattr(card, "card_issuer", None) or "").split()).casefold()
    return hashlib.sha256("|".join(("trial-card", *known, issuer)).encode()).hexdigest()


def _holder(fingerprint: str) -> int | None:
    return db.session.scalar(select(TrialCard.customer_id).where(TrialCard.card_fingerprint == fingerprint))


def card_had_trial_elsewhere(customer_id: int, card) -> bool:
    """Whether this card has had a free trial on another customer's account."""
    fingerprint = card_fingerprint(card)
    holder = _holder(fingerprint) if fingerprint is not None else None
    return holder is not None and holder != customer_id


def claim_card(sub: Subscription, card) -> bool:
    """Record that this card starts `sub`'s trial. False when another account's trial holds the card: two
    trials with one card at the same moment queue on the unique fingerprint, and the second loses."""
    fingerprint = card_fingerprint(card)
    if fingerprint is None:
        return True
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    db.session.execute(dialect.insert(TrialCard).values(
        card_fingerprint=fingerprint, customer_id=sub.customer_id, subscription_id=sub.id,
        created_at=sub.created_at).on_conflict_do_nothing(index_elements=["card_fingerprint"]))
    return _holder(fingerprint) == sub.customer_id


def refuse_trial(sub: Subscription, verification: Invoice, *, actor: str, cause: str) -> Invoice:
    """The checkout's card check is voided and the checkout becomes a paid one: an open invoice for the first
    period at the subscription's price, which the payment page offers next with the reason. `sub` and
    `verification` are locked."""
    from portal.billing.checkout import checkout_description

    if verification.status == "open":
        fire(verification, "void_invoice", actor=actor, cause=cause)
    fire(sub, "refuse_trial", actor=actor, cause=cause, reason=CARD_USED)
    invoice = Invoice(subscription_id=sub.id, customer_id=sub.customer_id, kind="initial", status="open",
                      amount=sub.amount, currency=sub.currency, created_at=clock.now(),
                      description=checkout_description(sub.plan, sub.customer))
    db.session.add(invoice)
    db.session.flush()
    return invoice
