"""widget.js itself, run in Node with a minimal fake DOM against the live sandbox (skipped without Node)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

NODE = shutil.which("node")
HARNESS = Path(__file__).with_name("widget_harness.js")

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")


def run_widget(sandbox, scenario: str, invoice_id) -> dict:
    env = {**os.environ, "SANDBOX_PUBLIC_ID": sandbox.public_id, "SANDBOX_INVOICE_ID": str(invoice_id)}
    done = subprocess.run([NODE, str(HARNESS), f"{sandbox.url}/", scenario], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_pay_success_calls_on_success_then_on_complete_and_closes(sandbox, merchant, invoice_id):
    report = run_widget(sandbox, "pay-success", invoice_id)

    assert [name for name, _ in report["events"]] == ["onSuccess", "onComplete"]
    assert report["events"][0][1] == str(invoice_id)
    complete = report["events"][1][1]
    assert complete["success"] is True and complete["transactionId"] and complete["token"].startswith("tk_")
    assert report["result"]["status"] == "success"
    assert report["result"]["data"]["transactionId"] == complete["transactionId"]
    assert report["labels"] == [True, True, True]
    assert (report["dialogRole"], report["focused"]) == ("dialog", "cp-sandbox-card-number")
    assert report["overlayOpen"] is False
    assert report["unsafeAttributes"] == []
    assert report["baseUrl"] == f"{sandbox.url}/"
    assert merchant.received("pay", invoice_id=invoice_id)


def test_pay_decline_calls_on_fail_with_the_reason(sandbox, invoice_id):
    report = run_widget(sandbox, "pay-decline", invoice_id)

    assert [name for name, _ in report["events"]] == ["onFail", "onComplete"]
    assert report["events"][0][1] == "Недостаточно средств на карте"
    assert report["events"][1][1]["code"] == 5051
    assert report["result"]["status"] == "fail"
    assert report["result"]["data"]["ReasonCode"] == 5051
    assert report["resultText"] == "Недостаточно средств на карте"


@pytest.mark.parametrize("scenario", ["cancel", "escape"])
def test_cancel_reports_user_has_cancelled_and_gives_the_focus_back(sandbox, merchant, scenario, invoice_id):
    report = run_widget(sandbox, scenario, invoice_id)

    assert report["events"][0] == ["onFail", "User has cancelled"]
    # The focus went into the dialog and came back to the page's button that opened it.
    assert (report["focusedOpen"], report["focusedClosed"]) == ("cp-sandbox-card-number", "opener")
    assert report["result"]["status"] == "cancel"
    assert report["result"]["message"] == "User has cancelled"
    assert report["overlayOpen"] is False
    assert merchant.requests == []


def test_escape_while_the_card_attempt_is_in_flight_does_not_abandon_it(sandbox, merchant, invoice_id):
    report = run_widget(sandbox, "escape-in-flight", invoice_id)

    # As the Cancel button, disabled meanwhile: the attempt's outcome is what the page hears.
    assert report["openAfterEscape"] is True
    assert [name for name, _ in report["events"]] == ["onSuccess", "onComplete"]
    assert report["result"]["status"] == "success"
    assert merchant.received("pay", invoice_id=invoice_id)


def test_a_typo_keeps_the_form_open_without_callbacks(sandbox, invoice_id):
    report = run_widget(sandbox, "fix-input", invoice_id)

    assert report["eventsAfterTypo"] == 0
    assert report["firstMessage"]
    assert [name for name, _ in report["events"]] == ["onSuccess", "onComplete"]


def test_start_resolves_with_the_newer_result_shape(sandbox, invoice_id):
    report = run_widget(sandbox, "start", invoice_id)

    result = report["result"]
    assert (result["type"], result["status"], result["message"]) == ("payment", "success", None)
    assert result["data"]["transactionId"] and result["data"]["ReasonCode"] == 0
    model = sandbox.call("payments/get", {"TransactionId": result["data"]["transactionId"]})["Model"]
    assert (model["Status"], model["InvoiceId"], model["AccountId"]) == ("Authorized", str(invoice_id), "user-js")
