"""The billing domain's tables, one module per aggregate."""
from portal.models.audit import StaffAction, Transition
from portal.models.catalog import Plan, ProviderDefault
from portal.models.customer import PaymentMethod, User
from portal.models.invoice import Invoice
from portal.models.mail import OutgoingMail
from portal.models.messaging import BusMessage, IdempotencyKey, OutboxMessage, WebhookEvent
from portal.models.payment import Payment, Refund
from portal.models.session import UserSession
from portal.models.subscription import Subscription

__all__ = [
    "BusMessage",
    "IdempotencyKey",
    "Invoice",
    "OutboxMessage",
    "OutgoingMail",
    "Payment",
    "PaymentMethod",
    "Plan",
    "ProviderDefault",
    "Refund",
    "StaffAction",
    "Subscription",
    "Transition",
    "User",
    "UserSession",
    "WebhookEvent",
]
