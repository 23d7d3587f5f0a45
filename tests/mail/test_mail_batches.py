"""Mails of a burst of events (a sale, a renewal run settling): built a batch per job from rows read in bulk, one
job at a time between the billing work customers wait for, each event's mails kept apart when another's fails."""
from sqlalchemy import event, func, select, update

from portal.billing import inbox
from portal.extensions import db
from portal.mail import DELIVER_NEW_JOB
from portal.mail.events import BUILD_JOB, build_event_mails
from portal.models import OutboxMessage, OutgoingMail
from portal.queue import billing_queue, mail_queue
from tests.flows.test_inbox import checkouts, notify
from tests.mail.support import stored_mails


def paid_checkouts(billing, live, count, first_transaction):
    """`count` first payments applied by the inbox, their events' mails not built yet."""
    for n, invoice in enumerate(checkouts(billing, count)):
        notify(live, invoice, first_transaction + n)
    billing_queue().empty()
    assert inbox.drain() == count
    mail_queue().empty()  # the build job the drain's commit asked for: the test builds instead


def unmailed():
    return db.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.mailed_at.is_(None)))


def receipts():
    return db.session.scalar(select(func.count()).select_from(OutgoingMail).where(
        OutgoingMail.purpose == "payment_receipt"))


def test_a_batch_of_receipts_is_built_with_the_same_number_of_statements_whatever_its_size(billing, live):
    def statements_to_build(count, first_transaction):
        paid_checkouts(billing, live, count, first_transaction)
        seen = []
        counter = lambda *args: seen.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            assert build_event_mails() > 0
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)
        # One job takes the first tries of the new receipts, over one connection.
        assert [job.func_name for job in mail_queue().jobs] == [DELIVER_NEW_JOB]
        billing.work()
        return len(seen)

    small, large = statements_to_build(2, 7781000), statements_to_build(20, 7782000)
    assert large == small
    assert receipts() == 22 and unmailed() == 0
    assert {mail.status for mail in stored_mails("payment_receipt")} == {"sent"}


def test_a_job_builds_one_batch_and_queues_the_next_behind_the_waiting_billing_work(billing, live):
    paid_checkouts(billing, live, 3, 7783000)
    events = unmailed()
    assert events > 2

    assert build_event_mails(batch=2, batches=1) == 2
    assert unmailed() == events - 2
    # The rest is a job of its own, taken when the billing queue is empty.
    assert [job.func_name for job in mail_queue().jobs if job.func_name == BUILD_JOB] == [BUILD_JOB]
    billing.work()
    assert unmailed() == 0 and receipts() == 3


def test_an_event_that_cannot_be_built_fails_alone_and_the_batchs_other_mails_are_built(billing, live):
    paid_checkouts(billing, live, 3, 7784000)
    broken = db.session.scalars(select(OutboxMessage).where(OutboxMessage.routing_key == "payment.succeeded")
                                .order_by(OutboxMessage.id)).all()[1]
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == broken.id).values(
        payload={**broken.payload, "payment_id": 2_000_000_000}))
    db.session.commit()

    assert build_event_mails() > 0
    assert unmailed() == 0
    built = stored_mails("payment_receipt")
    assert [mail.status for mail in built].count("queued") == 2
    [record] = [mail for mail in built if mail.status == "unbuilt"]
    assert "payments row 2000000000 that the event names does not exist" in record.last_error
    # The two built mails are delivered; the record waits for its rebuild.
    billing.work()
    assert sorted(mail.status for mail in stored_mails("payment_receipt")) == ["sent", "sent", "unbuilt"]
