"""The payment and refund lifecycles (portal/machines/payment.py, refund.py) run fast with every record read
back: each state's legal events, the review (held with its reason, resolved once), refunds never beyond what
was taken, a refund's provider id and failure."""
from portal.extensions import db
from tests.lifecycle_rules import events, invoice_row, payment, refund, refused, run, timeline

PAYMENT_STATES = ["pending", "authorized", "completed", "declined", "voided"]
# (from, event, to, bus event) for a payment not held for review.
PAYMENT_LEGAL = [
    ("pending", "authorize", "authorized", None),
    ("pending", "complete", "completed", "payment.succeeded"),
    ("pending", "decline", "declined", "payment.failed"),
    ("authorized", "confirm", "completed", "payment.succeeded"),
    ("authorized", "void", "voided", None),
]



def test_every_payment_transition_is_legal_only_from_its_own_state(app):
    for source, event, target, announced in PAYMENT_LEGAL:
        row = run(payment(source), event)
        assert (row.status, timeline(row), events(row)) == (target, [(source, target, event)],
                                                              [announced] if announced else [])
    legal = {(s, e) for s, e, *_ in PAYMENT_LEGAL}
    for state in PAYMENT_STATES:
        for event in ("authorize", "complete", "decline", "confirm", "void"):
            if (state, event) not in legal:
                refused(payment(state), event)
        if state != "completed":
            refused(payment(state), "record_refund", amount=100)
        if state in ("declined", "voided"):
            refused(payment(state), "hold_for_review", reason="late")
        for event, data in (("refund_held", {}), ("attach_to_invoice", {"invoice": None}),
                            ("dismiss_review", {"note": "ok"})):
            refused(payment(state), event, **data)  # not held: nothing to resolve


def test_a_payment_is_held_for_review_from_any_live_state_and_a_review_is_dismissed_from_each(app):
    for state in ("pending", "authorized", "completed"):
        row = run(payment(state), "hold_for_review", reason="amount differs")
        assert (row.status, row.needs_review, row.review_reason, row.review_resolution) == (
            state, True, "amount differs", None)
        row = run(row, "dismiss_review", note="checked by phone")
        assert (row.status, row.needs_review, row.review_resolution, row.review_note) == (
            state, False, "dismissed", "checked by phone")
        assert [e for _, _, e in timeline(row)] == ["hold_for_review", "dismiss_review"]
    for state in ("pending", "authorized"):
        for event in ("refund_held", "attach_to_invoice"):  # only money that was taken is refunded or attached
            refused(payment(state, needs_review=True), event, invoice=invoice_row())




def test_refunds_recorded_on_a_payment_never_exceed_what_it_took(app):
    row = payment("completed", amount=29900, refunded=10000)
    for amount in (None, 0, -5, 19901):
        refused(row, "record_refund", error=ValueError, amount=amount)
    row = run(row, "record_refund", amount=1)
    assert row.amount_refunded == 10001
    row = run(row, "record_refund", amount=19899)
    assert (row.status, row.amount_refunded) == ("completed", 29900)
    refused(row, "record_refund", error=ValueError, amount=1)


def test_a_hold_needs_a_reason_and_adds_a_second_finding_to_the_first(app):
    row = payment("completed")
    for reason in (None, ""):
        refused(row, "hold_for_review", error=ValueError, reason=reason)
    row = run(row, "hold_for_review", reason="paid in USD")
    customer = row.customer_id
    row = run(row, "hold_for_review", reason="paid in USD")
    assert row.review_reason == "paid in USD"  # the same finding is not repeated
    row = run(row, "hold_for_review", reason="refund could not apply")
    assert (row.review_reason, row.customer_id, row.needs_review) == (
        "paid in USD; refund could not apply", customer, True)
    # Once resolved, a new hold starts a new finding.
    row = run(row, "refund_held", note="")
    assert (row.needs_review, row.review_resolution, row.review_note) == (False, "refunded", None)
    row = run(row, "hold_for_review", reason="charged twice")
    assert (row.review_reason, row.review_resolution, row.needs_review) == ("charged twice", None, True)


def test_a_payment_by_a_stranger_is_held_without_its_customer(app):
    row = run(payment("pending"), "hold_for_review", reason="another customer's AccountId", stranger=True)
    assert (row.customer_id, row.needs_review) == (None, True)


def test_a_held_payment_settles_nothing_until_attached_and_a_decline_still_announces_the_failure(app):
    held = run(payment("pending"), "hold_for_review", reason="amount differs")
    held = run(held, "complete")
    assert events(held) == []
    confirmed = run(run(payment("authorized"), "hold_for_review", reason="amount differs"), "confirm")
    assert events(confirmed) == []
    declined = run(run(payment("pending"), "hold_for_review", reason="amount differs"), "decline")
    assert events(declined) == ["payment.failed"]


def test_attaching_a_held_payment_needs_the_invoice_and_moves_it_to_that_customer(app):
    row = run(payment("completed"), "hold_for_review", reason="no invoice", stranger=True)
    assert row.customer_id is None
    refused(row, "attach_to_invoice", error=ValueError, invoice=None)
    right = invoice_row()
    row = run(row, "attach_to_invoice", invoice=right, note="")
    assert (row.invoice_id, row.customer_id, row.review_resolution, row.review_note, row.needs_review) == (
        right.id, right.customer_id, "attached", None, False)
    assert events(row) == ["payment.succeeded"]


def test_a_review_is_dismissed_only_with_a_note(app):
    row = run(payment("completed"), "hold_for_review", reason="amount differs")
    for note in (None, "", "   "):
        refused(row, "dismiss_review", error=ValueError, note=note)


# Refund records -----------------------------------------------------------------------------------------------

def test_a_refund_succeeds_with_the_providers_id_or_fails_with_the_reason_once(app):
    done = run(refund(), "succeed", provider_refund_id="rf-from-provider")
    assert (done.status, done.provider_refund_id, events(done)) == (
        "succeeded", "rf-from-provider", ["refund.succeeded"])
    kept = refund()
    kept.provider_refund_id = "rf-asked"
    db.session.commit()
    kept = run(kept, "succeed")
    assert kept.provider_refund_id == "rf-asked"
    failed = run(refund(), "fail", failure="card account closed")
    assert (failed.status, failed.failure, events(failed)) == ("failed", "card account closed", [])
    for state in ("succeeded", "failed"):
        for event in ("succeed", "fail"):
            refused(refund(state), event)
