"""Billing mails run the whole flow: the portal and the sandbox over HTTP, jobs on Redis, mail over SMTP."""
from tests.bus.conftest import amqp, topology  # noqa: F401  (a relay on an exchange of the test's own)
from tests.flows.conftest import billing  # noqa: F401  (the flows' customer, provider and workers)
