"""The payment lifecycle: a charge at the provider, authorised and confirmed or completed at once; and the
staff review of a payment that settled nothing (held, then refunded, attached to its invoice or dismissed)."""
from statemachine import State

from portal.machines.base import BillingMachine


class PaymentMachine(BillingMachine):
    entity_type = "payment"
    # A completed payment is where money rests; refunds are amounts recorded on it, not a state it leaves for.
    validate_final_reachability = False
    announces = {
        "complete": "payment.succeeded",
        "confirm": "payment.succeeded",
        "decline": "payment.failed",
        "attach_to_invoice": "payment.succeeded",
    }

    pending = State("Pending", initial=True, value="pending")
    authorized = State("Authorized", value="authorized")
    completed = State("Completed", value="completed")
    declined = State("Declined", final=True, value="declined")
    voided = State("Voided", final=True, value="voided")

    authorize = pending.to(authorized)
    complete = pending.to(completed)
    decline = pending.to(declined)
    confirm = authorized.to(completed)
    void = authorized.to(voided)
    record_refund = completed.to.itself()

    # Money that settles nothing of ours goes in front of staff, with the reason, before it is recorded.
    hold_for_review = pending.to.itself() | authorized.to.itself() | completed.to.itself()
    # How staff (or the duplicate-charge refund) close a review: each is a timeline entry of its own.
    refund_held = completed.to.itself(cond="needs_review")
    attach_to_invoice = completed.to.itself(cond="needs_review")
    dismiss_review = (pending.to.itself(cond="needs_review") | authorized.to.itself(cond="needs_review")
                      | completed.to.itself(cond="needs_review"))

    def needs_review(self):
        return bool(self.model.needs_review)

    def announcement(self, event: str) -> str | None:
        # A held payment paid nothing: only one payment.succeeded per invoice, sent when it settles one.
        if event in ("complete", "confirm") and self.model.needs_review:
            return None
        return super().announcement(event)

    def on_record_refund(self, amount=None):
        if amount is None or amount <= 0 or amount > self.model.amount - self.model.amount_refunded:
            raise ValueError(f"refund of {amount} exceeds what is refundable on payment {self.model.id}")
        self.model.amount_refunded += amount

    def on_hold_for_review(self, reason=None, stranger=False):
        if not reason:
            raise ValueError("a payment is held for review with its reason")
        self.model.needs_review = True
        if stranger:  # not the invoice's customer who paid: not shown to them as theirs
            self.model.customer_id = None
        # A second finding on a held payment (a Refund notification that could not apply) is added to the first.
        earlier = self.model.review_reason if self.model.review_resolution is None else None
        self.model.review_reason = f"{earlier}; {reason}" if earlier and reason not in earlier else reason
        self.model.review_resolution = None

    def _resolve(self, resolution, note):
        self.model.needs_review = False
        self.model.review_resolution = resolution
        self.model.review_note = note or None

    def on_refund_held(self, note=None):
        self._resolve("refunded", note)

    def on_attach_to_invoice(self, invoice=None, note=None):
        if invoice is None:
            raise ValueError("a held payment is attached to an invoice")
        self.model.invoice = invoice
        self.model.invoice_id = invoice.id
        self.model.customer_id = invoice.customer_id
        self._resolve("attached", note)

    def on_dismiss_review(self, note=None):
        if not (note or "").strip():
            raise ValueError("a review is dismissed with a note saying why")
        self._resolve("dismissed", note)
