"""Billing mails run the whole flow: the portal and the sandbox over HTTP, jobs on Redis, mail over SMTP,
commands from the bus, staff on the admin pages, the customer in a browser."""
from tests.account.conftest import pytest_runtest_makereport  # noqa: F401  (screenshots of failed browser tests)
from tests.admin.conftest import staff  # noqa: F401  (a signed-in staff member)
from tests.bus.conftest import amqp, dead_letters, send_command, topology  # noqa: F401  (exchanges of the test's own)
from tests.flows.conftest import billing  # noqa: F401  (the flows' customer, provider and workers)
