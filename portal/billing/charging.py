"""Charging a saved card for an invoice (renewal, dunning retry, repay) with an idempotent request id:
a retry after a crash asks the provider the same question and gets the same answer, never a second charge."""
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import select

from portal import clock
from portal.billing import payments
from portal.billing.errors import NotAllowed, NotFound
from portal.billing.receipts import income_receipt
from portal.extensions import db
from portal.machines import atomic, hold, lock, lock_all
from portal.models import Invoice, PaymentMethod, Subscription, User
from portal.ops import context
from portal.providers import (
    PaymentDeclined,
    ProviderError,
    RetryableProviderError,
    TokenCharge,
    enabled_providers,
    get_provider,
    request_id,
)
from portal.queue import RETRY_INTERVALS, enqueue

log = logging.getLogger(__name__)


class ChargeOutcome(StrEnum):
    """What one charge of an invoice came to (a job's result, and what staff pages report)."""

    PAID = "paid"
    DECLINED = "declined"
    REFUSED = "refused"  # the provider would not take the request at all (token unknown or removed)
    NO_SAVED_CARD = "no saved card"
    NOT_DUE = "next attempt not due yet"
    NOT_OPEN = "invoice is not open"
    RETRIED = "retried by its own job"  # a passing error, or an answer not recorded: its own job goes again
    NOTHING_TO_CHARGE = "nothing to charge"


@dataclass(frozen=True)
class Charge:
    """What one attempt asks the provider: built under the invoice's lock, sent without any lock held."""
    invoice_id: int
    attempt: int
    actor: str
    cause: str
    provider: str  # the saved card's provider: a card is charged where it was saved
    request: TokenCharge


def charge_invoice(invoice_id: int, *, customer_present: bool = False, actor: str | None = None,
                   cause: str | None = None) -> ChargeOutcome:
    """Job body. Returns what happened: paid, declined, or why nothing was done."""
    with atomic():
        prepared = _prepare(lock(Invoice, invoice_id), customer_present, actor, cause)
    if isinstance(prepared, ChargeOutcome):
        return prepared
    answer = _send(_providers([prepared]), prepared)
    if isinstance(answer, RetryableProviderError):
        raise answer  # the job is retried with the same attempt, so the same request id
    with atomic():
        return _record(prepared, answer)


def charge_invoices(invoice_ids: list[int], *, pool: ThreadPoolExecutor) -> dict[int, ChargeOutcome]:
    """Many invoices at once (a renewal run): prepared under one transaction, sent side by side on
    `pool`, recorded in one transaction as a batch of notifications is. If the batch cannot be recorded
    as a whole, each answer is recorded alone; one the provider could not give (a passing error) gets
    its own charge job, with the same attempt and so the same request id."""
    outcomes: dict[int, ChargeOutcome] = {}
    with atomic():
        invoices = lock_all(Invoice, invoice_ids)
        _hold_cards(invoices.values())
        for invoice_id, invoice in invoices.items():
            prepared = _prepare(invoice, False, None, None)
            outcomes[invoice_id] = prepared
    charges = [c for c in outcomes.values() if isinstance(c, Charge)]
    providers = _providers(charges)  # looked up here: the pool's threads have no app context
    answers = list(pool.map(context.carried(lambda charge: _send(providers, charge)), charges))
    settled = [(c, a) for c, a in zip(charges, answers, strict=True) if not isinstance(a, RetryableProviderError)]
    for charge, answer in zip(charges, answers, strict=True):
        if isinstance(answer, RetryableProviderError):
            outcomes[charge.invoice_id] = _retry_alone(charge, "provider unavailable")
    try:
        with atomic():
            payments.hold_for([a.transaction if isinstance(a, PaymentDeclined) else a for _, a in settled
                               if isinstance(a, PaymentDeclined) or not isinstance(a, ProviderError)])
            for charge, answer in settled:
                outcomes[charge.invoice_id] = _record(charge, answer)
    except Exception:
        log.exception("recording %d charges as a batch failed; recording them one by one", len(settled))
        for charge, answer in settled:
            try:
                with atomic():
                    outcomes[charge.invoice_id] = _record(charge, answer)
            except Exception as exc:
                log.warning("charge of invoice %s not recorded (%s)", charge.invoice_id, exc)
                outcomes[charge.invoice_id] = _retry_alone(charge, "not recorded")
    return outcomes


def _retry_alone(charge: Charge, why: str) -> ChargeOutcome:
    """Its own charge job, a little later: the same attempt, so the same request id, so the provider's
    same answer (a charge it took is replayed, never taken twice)."""
    enqueue("workers.payments.charge_invoice", charge.invoice_id,
            job_id=f"charge-invoice-{charge.invoice_id}-attempt-{charge.attempt}",
            delay=timedelta(seconds=RETRY_INTERVALS[0]))
    log.info("charge of invoice %s: %s; retried by its own job", charge.invoice_id, why)
    return ChargeOutcome.RETRIED


def _prepare(invoice: Invoice, customer_present: bool, actor: str | None,
             cause: str | None) -> Charge | ChargeOutcome:
    """Under the invoice's lock: the charge to send, or why there is none (then recorded if it counts)."""
    if invoice.status != "open":
        return ChargeOutcome.NOT_OPEN
    if not customer_present and invoice.next_attempt_at and invoice.next_attempt_at > clock.now():
        return ChargeOutcome.NOT_DUE
    sub = invoice.subscription
    card = sub.payment_method
    if card is None:
        payments.record_uncollectible(invoice, lock(Subscription, sub.id), actor=actor or "job:charge",
                                      cause=f"invoice {invoice.id}: no saved card to charge")
        return ChargeOutcome.NO_SAVED_CARD
    attempt = (invoice.attempt_count or 0) + 1
    request = TokenCharge(token=card.token, amount_minor=invoice.amount, currency=invoice.currency,
                          account_id=_account(sub), invoice_id=invoice.id, description=invoice.description,
                          email=sub.customer.email, request_id=request_id("invoice", invoice.id, "attempt", attempt),
                          customer_present=customer_present, receipt=income_receipt(invoice))
    return Charge(invoice.id, attempt, actor or "job:charge",
                  f"{cause or 'scheduled charge'}: invoice {invoice.id}, attempt {attempt}", card.provider, request)


def _hold_cards(invoices) -> None:
    """The subscriptions, cards and customers `_prepare` reads, loaded in three statements."""
    subs = {s.id: s for s in db.session.scalars(select(Subscription).where(
        Subscription.id.in_({i.subscription_id for i in invoices})))}
    for model, ids in ((PaymentMethod, {s.payment_method_id for s in subs.values()}),
                       (User, {s.customer_id for s in subs.values()})):
        for row in db.session.scalars(select(model).where(model.id.in_(ids))):
            hold((model, row.id), row)
    for sub in subs.values():
        hold((Subscription, "read", sub.id), sub)


def _providers(charges: list[Charge]) -> dict:
    """The provider of each charge's card, or the error saying it is not enabled here any more."""
    found = {}
    for name in {charge.provider for charge in charges}:
        try:
            found[name] = get_provider(name)
        except ProviderError as error:
            found[name] = error
    return found


def _send(providers: dict, charge: Charge):
    """The card's provider's answer: a transaction, a PaymentDeclined, a refusal (ProviderError) or a
    passing error (RetryableProviderError), returned rather than raised so a batch can sort them."""
    context.bind(invoice_id=charge.invoice_id)
    provider = providers[charge.provider]
    if isinstance(provider, ProviderError):
        return provider  # a card saved at a provider that is switched off cannot be charged
    try:
        return provider.charge_token(charge.request)
    except ProviderError as answer:  # PaymentDeclined and RetryableProviderError are ProviderErrors
        return answer


def _record(charge: Charge, answer) -> ChargeOutcome:
    """In the caller's transaction: what the provider said about one charge."""
    if isinstance(answer, PaymentDeclined):
        payments.record_decline(answer.transaction, actor=charge.actor, cause=charge.cause, decline=answer.decline)
        return ChargeOutcome.DECLINED
    if isinstance(answer, ProviderError):
        # The provider will not take this request at all (token unknown or removed, card blocked): no
        # transaction exists, and asking again cannot help. The customer needs another card.
        invoice = lock(Invoice, charge.invoice_id)
        if invoice.status == "open" and (invoice.attempt_count or 0) + 1 == charge.attempt:
            payments.record_uncollectible(invoice, lock(Subscription, invoice.subscription_id), actor=charge.actor,
                                          cause=f"{charge.cause}: {answer.message}")
        return ChargeOutcome.REFUSED
    payments.record_success(answer, actor=charge.actor, cause=charge.cause)
    return ChargeOutcome.PAID


def _account(sub):
    from portal.billing.checkout import account_id

    return account_id(sub.customer)


def request_repay(subscription_id: int, *, actor: str, cause: str = "pay now") -> int:
    """The customer's "pay now": charge the saved card for the open renewal invoice, in a job."""
    sub = db.session.get(Subscription, subscription_id)
    if sub is None:
        raise NotFound(f"subscription {subscription_id} does not exist")
    invoice = db.session.scalar(
        db.select(Invoice).where(Invoice.subscription_id == sub.id, Invoice.status == "open",
                                 Invoice.kind.in_(("renewal", "repay"))).order_by(Invoice.id.desc()).limit(1))
    if sub.status != "past_due" or invoice is None:
        raise NotAllowed(f"subscription {subscription_id} is {sub.status} with nothing to pay")
    if sub.payment_method_id is None:
        raise NotAllowed("no saved card: pay through the checkout widget instead")
    enqueue("workers.payments.charge_invoice", invoice.id, customer_present=True, actor=actor, cause=cause,
            job_id=f"repay-invoice-{invoice.id}-attempt-{(invoice.attempt_count or 0) + 1}")
    return invoice.id


def reconcile_invoice(invoice_id: int) -> str:
    """Job body: ask the enabled providers about a checkout whose notification never came (the default
    may have changed since the widget opened: each one is asked until one has it paid)."""
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None or invoice.status != "open":
        return "nothing to reconcile"
    db.session.rollback()  # no transaction left open while the providers are asked
    transaction, trouble = None, None
    for provider in enabled_providers().values():
        try:
            found = provider.find_by_invoice(invoice_id)
        except ProviderError as error:  # one provider down must not keep the others from being asked
            log.warning("reconciliation of invoice %s: %s could not be asked: %s", invoice_id, provider.name, error)
            trouble = error
            continue
        if found is not None and found.status in ("completed", "authorized"):
            transaction = found
            break
    if transaction is None:
        if trouble is not None:
            raise trouble  # the job is retried: the provider that could not answer may hold the payment
        return "not paid at the provider"
    with atomic():
        outcome = payments.record_success(transaction, actor="job:reconciliation",
                                          cause=f"found at the provider for invoice {invoice_id}")
    return "recorded" if outcome.new else "already recorded"
