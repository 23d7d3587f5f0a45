"""Customers known to the platform: created or updated by the auth service, forgotten on deletion."""
from sqlalchemy import select

from portal import clock
from portal.accounts import normalise_email
from portal.billing import cancellation
from portal.billing.errors import InvalidRequest, NotAllowed, NotFound
from portal.extensions import db
from portal.machines import atomic, lock
from portal.mail import erase_mails_of
from portal.models import Subscription, User


def upsert_customer(external_id: str, email: str, name: str | None = None, *, mail: dict | None = None) -> User:
    """The platform's customer by external id: created on first sight, e-mail and name kept in step.
    A web account of the same address is linked only once its owner has proven the address (a link we
    mailed there): anyone can sign up with someone else's address, and linking that account would hand
    the address owner's subscriptions to whoever signed up first. Until then the two stay apart, and
    proving the address later joins them (portal/account_email.py: the platform's record wins)."""
    try:
        email = normalise_email(email)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from exc
    user = db.session.scalar(select(User).where(User.external_id == external_id).with_for_update())
    holders = db.session.scalars(select(User).where(User.email == email)).all()
    web = next((h for h in holders if h.external_id is None), None)
    if any(h.external_id is not None and (user is None or h.id != user.id) for h in holders):
        raise NotAllowed(f"email {email} belongs to another account")
    if web is not None and web.role != "customer":
        raise NotAllowed(f"email {email} belongs to another account")
    if user is None:
        if web is not None and web.email_verified_at is not None:
            user = web  # the web account's owner proved the address: the same person
        else:
            user = User(email=email, role="customer", name="")
            db.session.add(user)
        user.external_id = external_id
    else:
        if user.anonymized_at is not None:
            raise NotAllowed(f"customer {external_id} was deleted and cannot come back under the same id")
        if web is not None and web.email_verified_at is not None:
            raise NotAllowed(f"email {email} belongs to another account")
        user.email = email
    if name is not None:
        user.name = name
    if mail:
        from portal.mail.preferences import set_platform_settings

        set_platform_settings(user, **mail)
    db.session.flush()
    return user


def forget_customer(external_id: str, *, actor: str, cause: str) -> None:
    """The person left the platform. In one transaction: subscriptions end now without refund, saved
    cards are deleted, personal data is erased; invoices and payments stay for accounting, tied to an
    anonymous account."""
    customer = db.session.scalar(select(User).where(User.external_id == external_id))
    if customer is None:
        raise NotFound(f"no customer with external id {external_id!r}")
    with atomic():
        customer = lock(User, customer.id)
        for sub in db.session.scalars(select(Subscription).where(Subscription.customer_id == customer.id)).all():
            sub = lock(Subscription, sub.id)
            cancellation.cancel_locked(sub, "now", actor=actor, cause=cause, refund=False)
            sub.payment_method_id = None
        for card in list(customer.payment_methods):
            db.session.delete(card)
        customer.email, customer.name, customer.password_hash = None, "", None
        erase_mails_of(customer.id)
        customer.anonymized_at = customer.anonymized_at or clock.now()
