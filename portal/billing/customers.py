"""Customers known to the platform: created or updated by the auth service, forgotten on deletion."""
from sqlalchemy import select

from portal import clock
from portal.accounts import normalise_email
from portal.billing import cancellation
from portal.billing.errors import InvalidRequest, NotFound
from portal.extensions import db
from portal.machines import atomic
from portal.models import Subscription, User


def upsert_customer(external_id: str, email: str, name: str = "") -> User:
    try:
        email = normalise_email(email)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from exc
    user = db.session.scalar(select(User).where(User.external_id == external_id))
    if user is None:
        user = db.session.scalar(select(User).where(User.email == email, User.external_id.is_(None)))
    if user is None:
        user = User(external_id=external_id, role="customer")
        db.session.add(user)
    user.external_id, user.email, user.name = external_id, email, name or user.name or ""
    db.session.flush()
    return user


def forget_customer(external_id: str, *, actor: str, cause: str) -> None:
    """The person left the platform: subscriptions end now without refund, saved cards are deleted,
    personal data is erased; invoices and payments stay for accounting, tied to an anonymous account."""
    customer = db.session.scalar(select(User).where(User.external_id == external_id))
    if customer is None:
        raise NotFound(f"no customer with external id {external_id!r}")
    live = db.session.scalars(select(Subscription.id).where(
        Subscription.customer_id == customer.id, Subscription.status.in_(cancellation.LIVE))).all()
    for sub_id in live:
        cancellation.cancel(sub_id, "now", actor=actor, cause=cause, refund=False)
    with atomic():
        customer = db.session.get(User, customer.id)
        for sub in db.session.scalars(select(Subscription).where(Subscription.customer_id == customer.id)):
            sub.payment_method_id = None
        for card in list(customer.payment_methods):
            db.session.delete(card)
        customer.email, customer.name, customer.password_hash = None, "", None
        customer.anonymized_at = customer.anonymized_at or clock.now()


