"""Asking a customer to pay from outside their pages: a checkout of a plan (first subscription or again after
one ended) or a card check that replaces the renewal card, opened as the customer's own buttons open them,
and mailed to the customer with a signed link to that one payment page. For the platform's commands
(portal/bus/commands.py) and the staff's actions, which have no page of the customer's to show the widget on.

Safe to repeat: the open checkout or card check is reused while it lives, and its mail is one per invoice."""
from sqlalchemy import select

from portal.billing import cards
from portal.billing.checkout import start_checkout
from portal.billing.errors import NotFound
from portal.extensions import db
from portal.machines import atomic
from portal.models import Invoice, Subscription, User


def request_checkout(customer: User, plan_code: str) -> tuple[Subscription, Invoice]:
    """The customer's checkout of the plan (one at a time; refused while a subscription is live; a trial
    only for a customer who never had one), its pay link mailed to them."""
    from portal.mail.billing import payment_request

    with atomic():
        sub, invoice = start_checkout(customer, plan_code)
        payment_request(invoice)
    return sub, invoice


def request_checkout_of(customer_external_id: str, plan_code: str) -> tuple[Subscription, Invoice]:
    customer = db.session.scalar(select(User).where(User.external_id == customer_external_id))
    if customer is None:
        raise NotFound(f"no customer with external id {customer_external_id!r}")
    return request_checkout(customer, plan_code)


def request_card_check(subscription_id: int) -> Invoice:
    """The subscription's card check (refused unless it is live), its pay link mailed to the customer:
    the card proven there becomes the renewal card."""
    from portal.mail.billing import payment_request

    with atomic():
        sub = db.session.get(Subscription, subscription_id)
        if sub is None:
            raise NotFound(f"subscription {subscription_id} does not exist")
        check = cards.start_card_replacement(sub)
        payment_request(check)
    return check
