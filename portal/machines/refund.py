"""The refund lifecycle: asked of the provider, then succeeded or failed."""
from statemachine import State

from portal.machines.base import BillingMachine


class RefundMachine(BillingMachine):
    entity_type = "refund"
    announces = {"succeed": "refund.succeeded"}

    pending = State("Pending", initial=True, value="pending")
    succeeded = State("Succeeded", final=True, value="succeeded")
    failed = State("Failed", final=True, value="failed")

    succeed = pending.to(succeeded)
    fail = pending.to(failed)

    def on_succeed(self, provider_refund_id=None):
        if provider_refund_id is not None:
            self.model.provider_refund_id = provider_refund_id

    def on_fail(self, failure=None):
        self.model.failure = failure
