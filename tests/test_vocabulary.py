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


def _api_subscription_schema() -> dict:
    from portal.api.openapi import SCHEMAS as API_SCHEMAS

    return API_SCHEMAS["Subscription"]["properties"]


def _endings_the_machine_can_reach() -> set[tuple[str, str]]:
    """(final state, state it is reached from) for every transition of the subscription machine into a final state."""
    return {(transition.target.value, state.value) for state in SubscriptionMachine.states
            for transition in state.transitions if transition.target.final}


ACTOR_KINDS = ("customer:1", "staff:1", "job:renewal", "api:platform", "bus:platform", "provider")


def test_every_way_the_machine_ends_a_subscription_has_a_reason_of_the_vocabulary():
    from portal.billing.endings import END_REASONS, end_reason

    reached = {end_reason(status, source, actor) for status, source in _endings_the_machine_can_reach()
               for actor in ACTOR_KINDS}
    assert reached == set(END_REASONS)  # every way has a word, and every word is a way


def test_every_status_and_end_reason_is_worded_for_customers_and_named_by_the_api():
    from portal.account.labels import ENDING, SUBSCRIPTION_STATUS
    from portal.billing.endings import END_REASONS

    api = _api_subscription_schema()
    assert sorted(SUBSCRIPTION_STATUS) == sorted(api["status"]["enum"]) == sorted(SUBSCRIPTION_STATUSES)
    [_, ending] = api["ending"]["oneOf"]
    assert sorted(ENDING) == sorted(ending["properties"]["reason"]["enum"]) == sorted(END_REASONS)


def test_the_api_and_the_bus_name_the_same_trial_refusals():
    from portal.billing.trials import TRIAL_REFUSALS

    [_, api] = _api_subscription_schema()["trial_refusal"]["oneOf"]
    bus = json.loads((SCHEMAS / "subscription.json").read_text())["properties"]["data"]["properties"]
    assert sorted(api["enum"]) == sorted(bus["trial_refusal"]["enum"]) == sorted(TRIAL_REFUSALS)
