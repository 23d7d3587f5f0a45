"""Pay notifications in bulk: a burst is applied a batch per transaction, each one as if alone."""
from sqlalchemy import event, func, select, text

from portal.billing import inbox
from portal.extensions import db
from portal.models import Invoice, OutboxMessage, Payment, PaymentMethod, Plan, Subscription, Transition, WebhookEvent
from portal.queue import billing_queue
from tests.factories import make_customer, make_plan
from tests.flows.test_notifications import form, pay_fields, post, signed


def checkouts(billing, count):
    if db.session.scalar(select(Plan).where(Plan.code == "monthly")) is None:
        make_plan(code="monthly", amount=29900)
    return [billing.checkout(make_customer(), "monthly")[1] for _ in range(count)]


def notify(live, invoice, transaction_id, kind="pay", **overrides):
    body = form(pay_fields(invoice, transaction_id, Token=f"tk_{transaction_id}", **overrides))
    assert post(live, kind, body, signed(body)).json() == {"code": 0}


def transitions_of(entity_type, entity_id):
    return db.session.execute(select(Transition.from_state, Transition.to_state, Transition.event).where(
        Transition.entity_type == entity_type, Transition.entity_id == entity_id).order_by(Transition.id)).all()


def test_a_burst_of_pays_queues_one_job_and_lands_as_if_each_came_alone(billing, live):
    invoices = checkouts(billing, 30)
    for n, invoice in enumerate(invoices):
        notify(live, invoice, 7770000 + n)
    assert billing_queue().count == 1  # one drain job for the burst, not one per notification

    billing.work()
    billing.assert_no_failed_jobs()
    db.session.expire_all()
    for n, invoice in enumerate(invoices):
        invoice = db.session.get(Invoice, invoice.id)
        sub = db.session.get(Subscription, invoice.subscription_id)
        [payment] = invoice.payments
        assert (invoice.status, sub.status, payment.status) == ("paid", "active", "completed")
        assert (payment.provider_transaction_id, payment.amount, payment.needs_review) == (str(7770000 + n), 29900,
                                                                                           False)
        assert sub.current_period_start == invoice.period_start and sub.current_period_end == invoice.period_end
        assert db.session.get(PaymentMethod, sub.payment_method_id).card_last_four == "3055"
        assert transitions_of("payment", payment.id) == [("pending", "completed", "complete")]
        assert transitions_of("invoice", invoice.id) == [("open", "paid", "pay")]
        assert transitions_of("subscription", sub.id) == [("pending", "active", "activate")]
        messages = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.aggregate_type.in_(["payment", "subscription"]),
            OutboxMessage.aggregate_id.in_([payment.id, sub.id])).order_by(OutboxMessage.id)).all()
        by_key = {(m.routing_key, m.aggregate_id): m.payload for m in messages}
        assert by_key[("payment.succeeded", payment.id)]["subscription_id"] == sub.id
        assert by_key[("payment.succeeded", payment.id)]["customer_external_id"] == invoice.customer.external_id
        assert by_key[("subscription.activated", sub.id)]["customer"]["email"] == invoice.customer.email
    assert db.session.scalar(select(func.count()).select_from(WebhookEvent).where(
        WebhookEvent.status == "processed", WebhookEvent.attempts == 1)) == 30


def test_a_batch_asks_the_database_the_same_number_of_times_whatever_its_size(billing, live):
    def statements_to_drain(count, first_transaction):
        for n, invoice in enumerate(checkouts(billing, count)):
            notify(live, invoice, first_transaction + n)
        billing_queue().empty()
        seen = []
        counter = lambda *args: seen.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            assert inbox.drain() == count
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)
        return len(seen)

    small, large = statements_to_drain(3, 7771000), statements_to_drain(40, 7772000)
    assert large == small
    active = select(func.count()).select_from(Subscription).where(Subscription.status == "active")
    assert db.session.scalar(active) == 43


def test_a_drain_reads_the_rows_it_claims_not_the_whole_backlog(billing, live):
    for n, invoice in enumerate(checkouts(billing, 150)):
        notify(live, invoice, 7775000 + n)
    statement = inbox.claim(inbox.BATCH_SIZE).compile(db.engine, compile_kwargs={"literal_binds": True})
    [[plan]] = db.session.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}")).one()
    db.session.rollback()

    def scans(node):
        yield node
        for child in node.get("Plans", ()):
            yield from scans(child)

    read = [node for node in scans(plan["Plan"]) if node["Node Type"].endswith("Scan")]
    assert [node.get("Index Name") for node in read] == ["ix_webhook_events_untried"]
    assert read[0]["Actual Rows"] == inbox.BATCH_SIZE  # of the 150 waiting: no sort of every untried row


def test_a_full_batch_queues_the_next_drain_first_so_workers_share_a_backlog(billing, live):
    for n, invoice in enumerate(checkouts(billing, 5)):
        notify(live, invoice, 7773000 + n)
    billing_queue().empty()
    assert inbox.drain(limit=2) == 2
    # The payments' mails are built by a job of their own (portal/mail/events.py) on the mail queue.
    assert [job.func_name for job in billing_queue().jobs] == [inbox.DRAIN_JOB]
    billing.work()
    assert db.session.scalar(select(func.count()).select_from(WebhookEvent).where(
        WebhookEvent.status == "processed")) == 5


def test_one_bad_notification_does_not_hold_up_the_batch(billing, live):
    invoices = checkouts(billing, 4)
    for n, invoice in enumerate(invoices):
        # The third one says the payment was declined, at the Pay address: the batch cannot apply it.
        notify(live, invoice, 7774000 + n, **({"Status": "Declined"} if n == 2 else {}))
    billing.work(rounds=1)

    db.session.expire_all()
    statuses = [db.session.get(Subscription, i.subscription_id).status for i in invoices]
    assert statuses == ["active", "active", "pending", "active"]
    bad = db.session.scalars(select(WebhookEvent).where(WebhookEvent.transaction_id == "7774002")).one()
    # Applied alone, it fails the same way, which no retry would change: failed for staff at once, no job
    # left retrying it; no payment was recorded half-way.
    assert (bad.status, bad.attempts) == ("failed", 1) and "not a success" in bad.error
    assert billing_queue().scheduled_job_registry.get_job_ids() == []
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 3


def test_pay_and_confirm_of_one_transaction_in_one_batch_apply_in_order(billing, live):
    [invoice] = checkouts(billing, 1)
    notify(live, invoice, 7775000, Status="Authorized")
    notify(live, invoice, 7775000, kind="confirm", Status="Completed")
    billing.work()
    billing.assert_no_failed_jobs()
    db.session.expire_all()
    [payment] = db.session.scalars(select(Payment)).all()
    assert transitions_of("payment", payment.id) == [("pending", "authorized", "authorize"),
                                                      ("authorized", "completed", "confirm")]
    assert db.session.get(Invoice, invoice.id).status == "paid"
    assert db.session.get(Subscription, invoice.subscription_id).status == "active"


def test_a_pays_drain_goes_before_the_mails_waiting_in_the_queue(billing, live):
    """The customer watches the checkout page for the Pay's result; the receipts of earlier payments can go a
    moment later. Mail waits on a queue of its own, which a worker takes only once the billing queue is empty,
    so a queue full of deliveries never holds the drain behind them (nor a renewal's charge)."""
    from rq import SimpleWorker

    from portal.queue import enqueue, job_queues, mail_queue

    [invoice] = checkouts(billing, 1)
    for n in range(5):
        enqueue("workers.mail.deliver", 10_000 + n, job_id=f"mail-{10_000 + n}")
    notify(live, invoice, 7790001)
    assert [job.func_name for job in billing_queue().jobs] == [inbox.DRAIN_JOB]
    assert mail_queue().count == 5

    queues = job_queues()
    SimpleWorker(queues, connection=queues[0].connection).work(burst=True, max_jobs=1)
    db.session.expire_all()
    assert db.session.get(Subscription, invoice.subscription_id).status == "active"
    assert mail_queue().count == 5 + 1  # the deliveries still wait, and the receipt of this payment behind them
