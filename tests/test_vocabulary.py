"""One status vocabulary: the tuples in portal/models are what the machines' states, the migrated database's
CHECK constraints and the bus schemas say, so no module can spell a status (or an invoice kind) its own way."""
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import text

from portal.extensions import db
from portal.machines.invoice import InvoiceMachine
from portal.machines.payment import PaymentMachine
from portal.machines.refund import RefundMachine
from portal.machines.subscription import SubscriptionMachine
from portal.models.invoice import INVOICE_KINDS, INVOICE_STATUSES
from portal.models.payment import PAYMENT_STATUSES, REFUND_STATUSES
from portal.models.subscription import ENDED_STATUSES, ENTITLED_STATUSES, LIVE_STATUSES, SUBSCRIPTION_STATUSES

SCHEMAS = Path(__file__).resolve().parent.parent / "portal" / "bus" / "schemas" / "events"


@pytest.mark.parametrize("machine,statuses", [
    (SubscriptionMachine, SUBSCRIPTION_STATUSES), (InvoiceMachine, INVOICE_STATUSES),
    (PaymentMachine, PAYMENT_STATUSES), (RefundMachine, REFUND_STATUSES)])
def test_each_machine_has_exactly_the_states_of_its_vocabulary(machine, statuses):
    assert sorted(state.value for state in machine.states) == sorted(statuses)


def test_the_named_groups_partition_the_subscription_states():
    assert set(ENTITLED_STATUSES) < set(LIVE_STATUSES)
    assert set(LIVE_STATUSES) | set(ENDED_STATUSES) | {"pending"} == set(SUBSCRIPTION_STATUSES)
    assert not set(LIVE_STATUSES) & set(ENDED_STATUSES)
    assert {s.value for s in SubscriptionMachine.states if s.final} == set(ENDED_STATUSES)


@pytest.mark.parametrize("table,column,values", [
    ("subscriptions", "status", SUBSCRIPTION_STATUSES), ("invoices", "status", INVOICE_STATUSES),
    ("invoices", "kind", INVOICE_KINDS), ("payments", "status", PAYMENT_STATUSES),
    ("refunds", "status", REFUND_STATUSES)])
def test_the_migrated_database_allows_exactly_the_vocabulary(app, table, column, values):
    definition = db.session.scalar(text(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :name"), {"name": f"ck_{table}_{column}"})
    assert sorted(re.findall(r"'([a-z_]+)'", definition)) == sorted(values)


@pytest.mark.parametrize("schema,statuses", [
    ("subscription.json", SUBSCRIPTION_STATUSES), ("payment.json", PAYMENT_STATUSES)])
def test_the_bus_schemas_name_the_same_statuses(schema, statuses):
    status = json.loads((SCHEMAS / schema).read_text())["properties"]["data"]["properties"]["status"]
    assert sorted(status["enum"]) == sorted(statuses)
