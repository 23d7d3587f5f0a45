"""Errors a billing request can end in, each with a message a customer, staff member or developer can act on."""


class BillingError(Exception):
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(BillingError):
    status = 404


class NotAllowed(BillingError):
    """The request is understood but the subscription's state does not allow it now."""

    status = 409


class PaymentUnderWay(NotAllowed):
    """A checkout cannot be replaced while the provider may be charging it."""


class InvalidRequest(BillingError):
    status = 422


class ProviderUnavailable(BillingError):
    """The payment provider could not open the payment just now (its widget needs a call to its API)."""

    status = 503


class NotYetKnown(Exception):
    """A notification refers to something we have not recorded yet (it arrived out of order): retry later."""
