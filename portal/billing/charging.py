"""Charging a saved card for an invoice (renewal, dunning retry, repay) with an idempotent request id:
a retry after a crash asks the provider the same question and gets the same answer, never a second charge."""
from portal import clock
from portal.billing import payments
from portal.billing.errors import NotAllowed, NotFound
from portal.extensions import db
from portal.machines import atomic, lock
from portal.models import Invoice, Subscription
from portal.providers import PaymentDeclined, ProviderError, RetryableProviderError, get_provider, request_id
from portal.queue import enqueue


def charge_invoice(invoice_id: int, *, customer_present: bool = False, actor: str | None = None,
                   cause: str | None = None) -> str:
    """Job body. Returns what happened: 'paid', 'declined', or why nothing was done."""
    with atomic():
        invoice = lock(Invoice, invoice_id)
        if invoice.status != "open":
            return f"invoice is {invoice.status}"
        if not customer_present and invoice.next_attempt_at and invoice.next_attempt_at > clock.now():
            return "next attempt not due yet"
        sub = invoice.subscription
        card = sub.payment_method
        if card is None:
            payments.record_uncollectible(invoice, lock(Subscription, sub.id), actor=actor or "job:charge",
                                          cause=f"invoice {invoice_id}: no saved card to charge")
            return "no saved card"
        attempt = (invoice.attempt_count or 0) + 1
        charge = dict(token=card.token, amount_minor=invoice.amount, currency=invoice.currency,
                      account_id=_account(sub), invoice_id=invoice.id, description=invoice.description,
                      email=sub.customer.email, request_id=request_id("invoice", invoice.id, "attempt", attempt),
                      customer_present=customer_present)
    actor = actor or "job:charge"
    cause = f"{cause or 'scheduled charge'}: invoice {invoice_id}, attempt {attempt}"
    try:
        transaction = get_provider().charge_token(**charge)
    except PaymentDeclined as declined:
        with atomic():
            payments.record_decline(declined.transaction, actor=actor, cause=cause,
                                    retry_allowed=declined.retry_allowed)
        return "declined"
    except RetryableProviderError:
        raise  # the job is retried with the same attempt, so the same request id
    except ProviderError as refused:
        # The provider will not take this request at all (token unknown or removed, card blocked): no
        # transaction exists, and asking again cannot help. The customer needs another card.
        with atomic():
            invoice = lock(Invoice, invoice_id)
            if invoice.status == "open" and (invoice.attempt_count or 0) + 1 == attempt:
                payments.record_uncollectible(invoice, lock(Subscription, invoice.subscription_id), actor=actor,
                                              cause=f"{cause}: {refused.message}")
        return "refused"
    with atomic():
        payments.record_success(transaction, actor=actor, cause=cause)
    return "paid"


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
    """Job body: ask the provider about a checkout whose notification never came."""
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None or invoice.status != "open":
        return "nothing to reconcile"
    transaction = get_provider().find_by_invoice(invoice_id)
    if transaction is None or transaction.status not in ("completed", "authorized"):
        return "not paid at the provider"
    with atomic():
        outcome = payments.record_success(transaction, actor="job:reconciliation",
                                          cause=f"found at the provider for invoice {invoice_id}")
    return "recorded" if outcome.new else "already recorded"
