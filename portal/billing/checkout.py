"""Pay: a customer asks for a plan and gets a pending subscription, an open invoice and the widget's
parameters; the provider's Check is answered from that invoice."""
from datetime import timedelta

from sqlalchemy import select

from portal import clock
from portal.billing.errors import NotAllowed, NotFound
from portal.extensions import db
from portal.machines import lock
from portal.models import Invoice, Plan, Subscription, User
from portal.money import format_money
from portal.providers import WidgetRequest, get_provider

CHECKOUT_LIFETIME = timedelta(hours=24)
# The small authorisation that proves a card before a trial; voided right after, never captured.
VERIFICATION_AMOUNT = 100


class CheckCode:
    ACCEPT = 0
    UNKNOWN_INVOICE = 10
    WRONG_ACCOUNT = 11
    WRONG_AMOUNT = 12
    NOT_PAYABLE = 13
    EXPIRED = 20


def account_id(customer: User) -> str:
    """What the provider knows the customer by (AccountId): the platform's id, else ours."""
    return customer.external_id or f"customer-{customer.id}"


def start_checkout(customer: User, plan_code: str) -> tuple[Subscription, Invoice]:
    """The customer's pending subscription to this plan with its open invoice, created once and
    reused while the checkout lives. A customer with a live subscription cannot buy a second one."""
    # Two checkouts of one customer at once (double click, a retried API call) queue up here.
    lock(User, customer.id)
    plan = db.session.scalar(select(Plan).where(Plan.code == plan_code))
    if plan is None or not plan.is_active:
        raise NotFound(f"no plan with code {plan_code!r} is on sale")
    live = db.session.scalar(
        select(Subscription).where(Subscription.customer_id == customer.id,
                                   Subscription.status.in_(("trialing", "active", "past_due")))
    )
    if live is not None:
        raise NotAllowed(f"customer already has subscription {live.id} ({live.status}); cancel it or change plan")

    now = clock.now()
    pending = db.session.scalar(
        select(Subscription).where(Subscription.customer_id == customer.id, Subscription.plan_id == plan.id,
                                   Subscription.status == "pending",
                                   Subscription.created_at > now - CHECKOUT_LIFETIME)
        .order_by(Subscription.id.desc()).limit(1)
    )
    if pending is not None:
        invoice = open_checkout_invoice(pending)
        if invoice is not None:
            return pending, invoice

    sub = Subscription(customer=customer, plan=plan, status="pending", amount=plan.amount,
                       currency=plan.currency, created_at=now)
    db.session.add(sub)
    db.session.flush()
    kind, amount = ("verification", VERIFICATION_AMOUNT) if plan.trial_days else ("initial", plan.amount)
    invoice = Invoice(subscription=sub, customer_id=customer.id, kind=kind, status="open", amount=amount,
                      currency=plan.currency, description=_description(plan), created_at=now)
    db.session.add(invoice)
    db.session.flush()
    return sub, invoice


def open_checkout_invoice(sub: Subscription) -> Invoice | None:
    return db.session.scalar(
        select(Invoice).where(Invoice.subscription_id == sub.id, Invoice.status == "open",
                              Invoice.kind.in_(("initial", "verification")))
        .order_by(Invoice.id.desc()).limit(1)
    )


def _description(plan: Plan) -> str:
    price = format_money(plan.amount, plan.currency, "en")
    return f"Cinema subscription {plan.name} ({price} per {plan.interval_unit})"


def widget_scheme(invoice: Invoice) -> str:
    """'auth' for a card verification (voided later), 'charge' for a payment."""
    return "auth" if invoice.kind == "verification" else "charge"


def widget_parameters(invoice: Invoice) -> dict:
    """What the page hands to the provider's widget; also marks when the checkout started, which
    reconciliation uses to look for payments whose notification never came."""
    if invoice.checkout_started_at is None:
        invoice.checkout_started_at = clock.now()
    customer = invoice.customer
    params = get_provider().widget_params(WidgetRequest(
        invoice_id=invoice.id, amount_minor=invoice.amount, currency=invoice.currency,
        account_id=account_id(customer), email=customer.email, description=invoice.description,
        data={"subscription_id": invoice.subscription_id, "kind": invoice.kind},
    ))
    params["scheme"] = widget_scheme(invoice)
    return params


def check_payment(notification) -> int:
    """The provider's Check: may this payment go ahead? Answered from the invoice alone."""
    from portal.billing.payments import invoice_number

    number = invoice_number(notification)
    invoice = db.session.get(Invoice, number) if number is not None else None
    if invoice is None:
        return CheckCode.UNKNOWN_INVOICE
    if notification.account_id != account_id(invoice.customer):
        return CheckCode.WRONG_ACCOUNT
    if notification.amount_minor != invoice.amount or (notification.currency or "RUB") != invoice.currency:
        return CheckCode.WRONG_AMOUNT
    sub = invoice.subscription
    if invoice.status != "open" or sub.status in ("canceled", "expired"):
        return CheckCode.NOT_PAYABLE
    if invoice.kind in ("initial", "verification") and invoice.created_at < clock.now() - CHECKOUT_LIFETIME:
        return CheckCode.EXPIRED
    return CheckCode.ACCEPT

