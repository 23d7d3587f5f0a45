"""The fiscal receipt lifecycle: asked of the till, then registered (fiscal attributes) or failed (with
the till's reason), and a failed one asked again."""
from statemachine import State

from portal.machines.base import BillingMachine

FISCAL_FIELDS = ("provider_receipt_id", "fiscal_storage_number", "fiscal_document_number", "fiscal_sign",
                 "register_number", "registered_at", "url", "qr")


class ReceiptMachine(BillingMachine):
    entity_type = "receipt"
    announces = {"register": "receipt.registered", "fail": "receipt.failed"}

    pending = State("Pending", initial=True, value="pending")
    registered = State("Registered", final=True, value="registered")
    failed = State("Failed", value="failed")

    register = pending.to(registered) | failed.to(registered)
    fail = pending.to(failed)
    retry = failed.to(pending)

    def on_register(self, **fiscal):
        for name in FISCAL_FIELDS:
            if fiscal.get(name) is not None:
                setattr(self.model, name, fiscal[name])
        self.model.failure = None

    def on_fail(self, failure=None, provider_receipt_id=None):
        self.model.failure = failure
        if provider_receipt_id is not None:  # the refused one: a later answer under another id is a new try
            self.model.provider_receipt_id = provider_receipt_id

    def on_retry(self):
        self.model.attempts = (self.model.attempts or 0) + 1
