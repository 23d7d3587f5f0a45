"""The payment lifecycle: a charge at the provider, authorised and confirmed or completed at once."""
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

    def on_record_refund(self, amount=None):
        if amount is None or amount <= 0 or amount > self.model.amount - self.model.amount_refunded:
            raise ValueError(f"refund of {amount} exceeds what is refundable on payment {self.model.id}")
        self.model.amount_refunded += amount

