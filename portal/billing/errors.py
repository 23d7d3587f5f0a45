"""Errors a billing request can end in, each with a message a customer, staff member or developer can act on.

A message is English. Billing's services also run in workers, where there is no reader and so no language (Flask-Babel
would answer its default, Russian): a message made with N_ is that English text, and also keeps its catalogue msgid
and values, so a page translates it when it shows it (portal.admin.labels.translated). The msgid is the one source;
the API, logs, customers' pages and job results read the English as before."""


class Message(str):
    """An English message that remembers its msgid and values: `template % values` as text."""

    template: str
    values: dict

    def __new__(cls, template: str, values: dict | None = None):
        values = dict(values or {})
        self = super().__new__(cls, template % values if values else template)
        self.template, self.values = template, values
        return self

    def __reduce__(self):
        return Message, (self.template, self.values)


def N_(template: str, **values) -> Message:
    """Mark an English message for the catalogue (pybabel extracts N_ calls) and fill in its values."""
    return Message(template, values)


class Status(str):
    """A stored status inside a message: the English reads it as stored, a page as its word for that kind."""

    kind: str

    def __new__(cls, kind: str, value: str):
        self = super().__new__(cls, value)
        self.kind = kind
        return self

    def __reduce__(self):
        return Status, (self.kind, str(self))


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
