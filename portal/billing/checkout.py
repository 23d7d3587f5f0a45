"""Pay: a customer asks for a plan and gets a pending subscription, an open invoice and the widget's
parameters; the provider's Check is answered from that invoice."""
import logging
from contextlib import contextmanager
from datetime import timedelta

from flask_babel import force_locale, gettext
from sqlalchemy import select

from portal import clock
from portal.billing.errors import NotAllowed, NotFound, PaymentUnderWay, ProviderUnavailable
from portal.billing.provider_choice import default_provider
from portal.billing.receipts import income_receipt
from portal.billing.trials import card_had_trial_elsewhere, refuse_trial, trial_available
from portal.extensions import db
from portal.machines import atomic, fire, lock
from portal.models import Invoice, Payment, Plan, Subscription, User, WebhookEvent
from portal.models.invoice import CARD_CHECK_KINDS, CHECKOUT_KINDS
from portal.models.subscription import LIVE_STATUSES
from portal.money import format_money
from portal.providers import (
    CheckDecision,
    PaymentProvider,
    ProviderError,
    WidgetRequest,
    enabled_providers,
    get_provider,
)

log = logging.getLogger(__name__)

CHECKOUT_LIFETIME = timedelta(hours=24)
# How long an accepted Check holds the invoice for its transaction when neither its Pay nor its Fail comes
# (a payment abandoned on the 3-D Secure page): after that another payment may try.
RESERVATION_LIFETIME = timedelta(minutes=5)
# The small authorisation that proves a card before a trial; voided right after, never captured.
VERIFICATION_AMOUNT = 100


def account_id(customer: User) -> str:
    """What the provider knows the customer by (AccountId): the platform's id, else ours."""
    return customer.external_id or f"customer-{customer.id}"


def start_checkout(customer: User, plan_code: str) -> tuple[Subscription, Invoice]:
    """The customer's pending subscription to this plan with its open invoice, created once and
    reused while the checkout lives. A customer with a live subscription cannot buy a second one, and
    has one checkout at a time: choosing another plan closes the checkout of the first."""
    # Two checkouts of one customer at once (double click, a retried API call) queue up here.
    lock(User, customer.id)
    plan = db.session.scalar(select(Plan).where(Plan.code == plan_code))
    if plan is None or not plan.is_active:
        raise NotFound(f"no plan with code {plan_code!r} is on sale")
    live = db.session.scalar(
        select(Subscription).where(Subscription.customer_id == customer.id,
                                   Subscription.status.in_(LIVE_STATUSES))
    )
    if live is not None:
        raise NotAllowed(f"customer already has subscription {live.id} ({live.status}); cancel it or change plan")

    now = clock.now()
    pending = db.session.scalars(
        select(Subscription).where(Subscription.customer_id == customer.id, Subscription.status == "pending")
        .order_by(Subscription.id.desc())
    ).all()
    for other in pending:
        if other.plan_id == plan.id and other.created_at > now - CHECKOUT_LIFETIME:
            invoice = open_checkout_invoice(other)
            if invoice is not None:
                return other, invoice
    for other in pending:
        paying = open_checkout_invoice(other)
        if paying is not None and another_payment_under_way(lock(Invoice, paying.id), None):
            raise PaymentUnderWay(f"the payment for checkout {other.id} ({other.plan.code}) is being confirmed")
    for other in pending:
        close_checkout(lock(Subscription, other.id), "cancel", actor=f"customer:{customer.id}",
                       cause=f"replaced by a checkout of {plan.code}")

    sub = Subscription(customer=customer, plan=plan, status="pending", amount=plan.amount,
                       currency=plan.currency, created_at=now)
    db.session.add(sub)
    db.session.flush()
    kind, amount = ("verification", VERIFICATION_AMOUNT) if trial_available(customer, plan) else (
        "initial", plan.amount)
    invoice = Invoice(subscription=sub, customer_id=customer.id, kind=kind, status="open", amount=amount,
                      currency=plan.currency, description=checkout_description(plan, customer), created_at=now)
    db.session.add(invoice)
    db.session.flush()
    return sub, invoice


def close_checkout(sub: Subscription, event: str, *, actor: str, cause: str) -> None:
    """A pending subscription that will not be paid: its open invoices are voided, then it ends
    (`cancel` when the customer replaced it, `expire` when nobody paid in time). `sub` is locked."""
    for invoice in db.session.scalars(select(Invoice).where(
            Invoice.subscription_id == sub.id, Invoice.status == "open")):
        fire(lock(Invoice, invoice.id), "void_invoice", actor=actor, cause=cause)
    fire(sub, event, actor=actor, cause=cause)


def open_checkout_invoice(sub: Subscription) -> Invoice | None:
    return db.session.scalar(
        select(Invoice).where(Invoice.subscription_id == sub.id, Invoice.status == "open",
                              Invoice.kind.in_(("initial", "verification")))
        .order_by(Invoice.id.desc()).limit(1)
    )


@contextmanager
def customers_language(customer: User):
    """Words for the customer inside: their language, else the one they are browsing in (the locale, given)."""
    from portal.mail import mail_locale

    locale = mail_locale(customer.locale)
    with force_locale(locale):
        yield locale


def checkout_description(plan: Plan, customer: User) -> str:
    """What the card widget shows the customer the payment is for, in their language (the provider keeps it too):
    "Подписка на кинотеатр «Месячная» (299,00 ₽ в месяц)", "Cinema subscription Monthly (RUB 299.00 per month)"."""
    from portal.account.labels import per_interval

    with customers_language(customer) as locale:
        return gettext("Cinema subscription %(plan)s (%(price)s %(period)s)", plan=plan.name_in(locale),
                       price=format_money(plan.amount, plan.currency, locale),
                       period=per_interval(plan.interval_unit, plan.interval_count))


def widget_scheme(invoice: Invoice) -> str:
    """'auth' for a card verification (voided later), 'charge' for a payment."""
    return "auth" if invoice.kind in CARD_CHECK_KINDS else "charge"


def checkout_provider(invoice: Invoice) -> PaymentProvider:
    """The provider whose widget pays this invoice: the default staff chose for its currency."""
    return default_provider(invoice.currency)


def widget_parameters(invoice: Invoice, *, locale: str | None = None) -> dict:
    """What the page hands to the provider's widget; also marks when the checkout started, which
    reconciliation uses to look for payments whose notification never came. `locale` is the page's
    language; without a page (the platform API) the customer's own: a widget that takes its language from
    the payment (YooKassa's) speaks it."""
    if invoice.checkout_started_at is None:
        invoice.checkout_started_at = clock.now()
    customer = invoice.customer
    scheme = widget_scheme(invoice)
    provider = checkout_provider(invoice)
    try:
        params = provider.widget_params(WidgetRequest(
            invoice_id=invoice.id, amount_minor=invoice.amount, currency=invoice.currency,
            account_id=account_id(customer), email=customer.email, description=invoice.description,
            data={"subscription_id": invoice.subscription_id, "kind": invoice.kind},
            scheme=scheme, attempt=(invoice.attempt_count or 0) + 1, locale=locale or customer.locale,
            receipt=income_receipt(invoice),
        ))
    except ProviderError as error:  # a widget that needs the provider's API to open (YooKassa's token)
        log.warning("%s could not open the payment of invoice %s: %s", provider.name, invoice.id, error)
        raise ProviderUnavailable(f"{provider.name} could not open the payment just now; try again in a minute") \
            from None
    params["scheme"] = scheme
    return params


def check_payment(notification) -> CheckDecision:
    """The provider's Check: may this payment go ahead? Answered from the invoice, and from what we know of
    other payments for it: while one is being applied (its Pay in the inbox, or the transaction this Check
    let through still under way) a second is refused, so one invoice is charged once. An accepted Check
    reserves the invoice for its transaction, committed before the answer."""
    from portal.billing.payments import invoice_number

    number = invoice_number(notification)
    if number is None:
        return CheckDecision.UNKNOWN_INVOICE
    with atomic():
        # Two Checks for one invoice at the same moment queue here: the second sees the first's reservation.
        invoice = lock(Invoice, number, missing_ok=True)
        code = _check_code(invoice, notification)
        if code == CheckDecision.ACCEPT and invoice.kind == "verification" and card_had_trial_elsewhere(
                invoice.customer_id, notification):
            # No money is held: the card check is refused, and the page offers the paid checkout with the reason.
            refuse_trial(lock(Subscription, invoice.subscription_id), invoice, actor="provider",
                         cause=f"Check of transaction {_transaction_key(notification)}: this card had a free "
                               f"trial on another account")
            code = CheckDecision.NOT_PAYABLE
        if code == CheckDecision.ACCEPT:
            invoice.reserved_transaction_id = _transaction_key(notification)
            invoice.reserved_provider = notification.provider or None
            invoice.reserved_at = clock.now()
    return code


def _check_code(invoice: Invoice | None, notification) -> CheckDecision:
    if invoice is None:
        return CheckDecision.UNKNOWN_INVOICE
    if notification.account_id != account_id(invoice.customer):
        return CheckDecision.WRONG_ACCOUNT
    if notification.amount_minor != invoice.amount or (notification.currency or "RUB") != invoice.currency:
        return CheckDecision.WRONG_AMOUNT
    sub = invoice.subscription
    if invoice.status != "open" or sub.status in ("canceled", "expired"):
        return CheckDecision.NOT_PAYABLE
    if invoice.kind in CHECKOUT_KINDS and invoice.created_at < clock.now() - CHECKOUT_LIFETIME:
        return CheckDecision.EXPIRED
    if another_payment_under_way(invoice, _transaction_key(notification)):
        return CheckDecision.NOT_PAYABLE
    return CheckDecision.ACCEPT


def _transaction_key(notification) -> str | None:
    transaction_id = notification.transaction_id
    return str(transaction_id)[:64] if transaction_id is not None else None


def another_payment_under_way(invoice: Invoice, transaction_id: str | None) -> bool:
    """Whether a payment other than `transaction_id` may be paying this open invoice right now: its
    success notification is stored but not applied yet (at any enabled provider), or a Check let it
    through moments ago and neither its failure nor its payment has come back since (a declined or held
    payment frees the invoice for another try)."""
    for provider in enabled_providers().values():
        if provider.settling_kinds and db.session.scalar(select(WebhookEvent.id).where(
                WebhookEvent.provider == provider.name, WebhookEvent.invoice_id == str(invoice.id),
                WebhookEvent.kind.in_(provider.settling_kinds), WebhookEvent.status == "received",
                WebhookEvent.transaction_id.is_distinct_from(transaction_id)).limit(1)) is not None:
            return True
    reserved = invoice.reserved_transaction_id
    if reserved is None or reserved == transaction_id or invoice.reserved_at < clock.now() - RESERVATION_LIFETIME:
        return False
    provider = get_provider(invoice.reserved_provider) if invoice.reserved_provider else get_provider()
    failed = db.session.scalar(select(WebhookEvent.id).where(
        WebhookEvent.provider == provider.name, WebhookEvent.kind.in_(provider.failure_kinds),
        WebhookEvent.transaction_id == reserved, WebhookEvent.status != "rejected").limit(1))
    if failed is not None:
        return False
    recorded = db.session.scalar(select(Payment).where(
        Payment.provider == provider.name, Payment.provider_transaction_id == reserved))
    return recorded is None or recorded.settles_invoice and recorded.status != "declined"
