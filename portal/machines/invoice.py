"""The invoice lifecycle: open → paid → refunded, or open → void."""
from statemachine import State

from portal import clock
from portal.machines.base import BillingMachine


class InvoiceMachine(BillingMachine):
    entity_type = "invoice"

    open = State("Open", initial=True, value="open")
    paid = State("Paid", value="paid")
    void = State("Void", final=True, value="void")
    refunded = State("Refunded", final=True, value="refunded")

    pay = open.to(paid)
    # A declined attempt stays open, but the attempt and the next retry belong on the timeline.
    record_failed_attempt = open.to.itself()
    void_invoice = open.to(void)
    refund_partially = paid.to.itself(cond="refund_leaves_balance")
    refund_fully = paid.to(refunded, cond="refund_clears_balance")

    # The guards are the refund rule: python-statemachine checks them before the callbacks run, so a refund
    # of nothing, or of more than is left, never reaches on_refund_*.
    def refund_leaves_balance(self, amount=None):
        return amount is not None and 0 < amount < self.model.amount - self.model.amount_refunded

    def refund_clears_balance(self, amount=None):
        return amount is not None and amount == self.model.amount - self.model.amount_refunded

    def on_pay(self, period_start=None, period_end=None):
        if period_start is not None:
            self.model.period_start, self.model.period_end = period_start, period_end
        self.model.paid_at = clock.now()
        self.model.next_attempt_at = None

    def on_record_failed_attempt(self, reason_code=None, next_attempt_at=None):
        self.model.attempt_count = (self.model.attempt_count or 0) + 1
        self.model.last_reason_code = reason_code
        self.model.next_attempt_at = next_attempt_at

    def on_void_invoice(self):
        self.model.voided_at = clock.now()
        self.model.next_attempt_at = None

    def on_refund_partially(self, amount=None):
        self.model.amount_refunded += amount

    def on_refund_fully(self, amount=None):
        self.model.amount_refunded += amount
