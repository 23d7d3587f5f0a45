"""The billing domain's tables, one module per aggregate."""
from portal.models.audit import StaffAction, Transition
from portal.models.catalog import Plan, ProviderDefault
from portal.models.customer import PaymentMethod, User
from portal.models.entitlement import CustomerEntitlement
from portal.models.invoice import Invoice
from portal.models.mail import OutgoingMail, SubscriptionReminder
from portal.models.messaging import BusMessage, IdempotencyKey, OutboxMessage, WebhookEvent
from portal.models.numbering import DocumentCounter
from portal.models.payment import Payment, Refund
from portal.models.receipt import FiscalReceipt, SellerSettings
from portal.models.session import UserSession
from portal.models.subscription import Subscription, TrialCard
from portal.models.test_clock import TestClock

__all__ = [
    "BusMessage",
    "CustomerEntitlement",
    "DocumentCounter",
    "FiscalReceipt",
    "IdempotencyKey",
    "Invoice",
    "OutboxMessage",
    "OutgoingMail",
    "Payment",
    "PaymentMethod",
    "Plan",
    "ProviderDefault",
    "Refund",
    "SellerSettings",
    "StaffAction",
    "Subscription",
    "SubscriptionReminder",
    "TestClock",
    "Transition",
    "TrialCard",
    "User",
    "UserSession",
    "WebhookEvent",
]
