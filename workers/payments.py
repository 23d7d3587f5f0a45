"""Jobs that talk to the provider: token charges, refunds, voids and reconciliation lookups."""
from workers import job


@job
def charge_invoice(invoice_id: int, customer_present: bool = False, actor: str | None = None,
                   cause: str | None = None) -> str:
    from portal.billing.charging import charge_invoice as charge

    return charge(invoice_id, customer_present=customer_present, actor=actor, cause=cause)


@job
def renew_subscription(subscription_id: int) -> str:
    from portal.billing.renewals import renew

    return renew(subscription_id)


@job
def renew_subscriptions(subscription_ids: list[int]) -> dict[int, str]:
    from portal.billing.renewals import renew_many

    return renew_many(subscription_ids)


@job
def send_refund(refund_id: int) -> None:
    from portal.billing.refunds import send_refund as send

    send(refund_id)


@job
def void_verification(payment_id: int) -> None:
    from portal.billing.payments import void_verification as void

    void(payment_id)


@job
def reconcile_invoice(invoice_id: int) -> str:
    from portal.billing.charging import reconcile_invoice as reconcile

    return reconcile(invoice_id)


@job
def poll_receipt(receipt_id: int) -> str:
    from portal.billing.fiscal import poll_receipt as poll

    return poll(receipt_id)


@job
def retry_receipt(receipt_id: int) -> str:
    from portal.billing.fiscal import retry_receipt as retry

    return retry(receipt_id)
