"""Notifications to the merchant over real HTTP: one per status change, the full object, retries,
the delivery log, redelivery, the source address and the delivery switches."""

import time

import pytest
import requests

from .conftest import YooKassaClient, serve, webhooks, yookassa_app


def test_widget_payment_notifies_succeeded_with_the_object_as_get_returns_it(yookassa, merchant):
    paid = yookassa.paid_payment()

    [hook] = webhooks(merchant)

    assert hook["json"]["type"] == "notification" and hook["json"]["event"] == "payment.succeeded"
    assert hook["json"]["object"] == paid
    assert hook["path"] == "/webhooks/yookassa"
    assert hook["headers"]["Content-Type"].startswith("application/json")


def test_two_stage_flow_notifies_waiting_for_capture_then_canceled(yookassa, merchant):
    held = yookassa.paid_payment(capture=False)
    yookassa.call("POST", f"/payments/{held['id']}/cancel")

    hooks = webhooks(merchant, count=2)

    assert [h["json"]["event"] for h in hooks] == ["payment.waiting_for_capture", "payment.canceled"]
    assert hooks[1]["json"]["object"]["cancellation_details"]["reason"] == "canceled_by_merchant"


def test_capture_notifies_succeeded(yookassa, merchant):
    held = yookassa.paid_payment(capture=False)
    yookassa.call("POST", f"/payments/{held['id']}/capture")

    assert webhooks(merchant, count=2)[-1]["json"]["event"] == "payment.succeeded"


def test_declined_charge_and_refund_are_notified(yookassa, merchant):
    paid = yookassa.paid_payment("5555555555550103")
    declined = yookassa.charge(paid["payment_method"]["id"])
    refund = yookassa.call("POST", "/refunds", {"payment_id": paid["id"],
                                                "amount": {"value": "1.00", "currency": "RUB"}})

    hooks = webhooks(merchant, count=3)
    events = {(h["json"]["event"], h["json"]["object"]["id"]) for h in hooks}

    assert ("payment.canceled", declined["id"]) in events
    assert ("refund.succeeded", refund["id"]) in events
    assert [h["json"]["object"] for h in hooks if h["json"]["event"] == "refund.succeeded"] == [refund]


def test_cabinet_refund_and_cancel_are_notified_like_api_ones(yookassa, merchant):
    paid = yookassa.paid_payment(value="50.00")
    held = yookassa.paid_payment(capture=False)

    refund = yookassa.control(f"/payments/{paid['id']}/refund")
    canceled = yookassa.control(f"/payments/{held['id']}/cancel")

    assert refund["amount"]["value"] == "50.00" and canceled["status"] == "canceled"
    events = [(h["json"]["event"], h["json"]["object"]["id"]) for h in webhooks(merchant, count=4)]
    assert ("refund.succeeded", refund["id"]) in events and ("payment.canceled", held["id"]) in events


def test_a_refused_notification_is_retried_until_answered_200(yookassa, merchant):
    merchant.failures["yookassa"] = 2
    paid = yookassa.paid_payment()

    hooks = webhooks(merchant, count=3, wait=5)

    assert len(hooks) == 3 and {h["json"]["object"]["id"] for h in hooks} == {paid["id"]}
    [entry] = yookassa.deliveries(object_id=paid["id"])
    assert entry["event"] == "payment.succeeded" and entry["attempts"] == 3 and entry["delivered"] is True
    assert [attempt["status"] for attempt in entry["history"]] == [500, 500, 200]


def test_replayed_request_sends_no_second_notification(yookassa, merchant):
    method_id = yookassa.paid_payment()["payment_method"]["id"]
    body = {"amount": {"value": "5.00", "currency": "RUB"}, "capture": True, "payment_method_id": method_id}
    charge = yookassa.call("POST", "/payments", body, key="inv-7-a1")
    yookassa.call("POST", "/payments", body, key="inv-7-a1")

    webhooks(merchant, count=2)
    time.sleep(0.2)

    assert len(webhooks(merchant, count=0, wait=0, object_id=charge["id"])) == 1


def test_redeliver_posts_a_logged_notification_again(yookassa, merchant):
    paid = yookassa.paid_payment()
    [entry] = yookassa.deliveries(object_id=paid["id"])

    again = yookassa.control(f"/notifications/{entry['id']}/redeliver")

    assert again["attempts"] == 2
    assert len(webhooks(merchant, count=2)) == 2


def test_duplicate_mode_sends_every_notification_twice(yookassa, merchant):
    yookassa.control("", {"notifications": "duplicate"})
    yookassa.paid_payment()

    hooks = webhooks(merchant, count=2)

    assert len(hooks) == 2 and hooks[0]["body"] == hooks[1]["body"]


def test_drop_mode_sends_nothing_but_logs_it(yookassa, merchant):
    yookassa.control("", {"notifications": "drop"})
    paid = yookassa.paid_payment()
    time.sleep(0.2)

    assert webhooks(merchant, count=1, wait=0.3) == []
    assert yookassa.deliveries(object_id=paid["id"])[0]["last_status"] == "dropped"


def test_out_of_order_mode_delivers_a_later_event_first(yookassa, merchant):
    yookassa.control("", {"notifications": "out_of_order", "delay_ms": 300})
    held = yookassa.paid_payment(capture=False)
    yookassa.call("POST", f"/payments/{held['id']}/capture")

    hooks = webhooks(merchant, count=2)

    assert [h["json"]["event"] for h in hooks] == ["payment.succeeded", "payment.waiting_for_capture"]


def test_webhook_url_can_be_switched_off_and_moved(yookassa, merchant):
    yookassa.control("", {"webhook_url": ""})
    yookassa.paid_payment()
    yookassa.control("", {"webhook_url": merchant.url + "/elsewhere/yookassa"})
    yookassa.paid_payment()

    hooks = webhooks(merchant, count=1)

    assert [h["path"] for h in hooks] == ["/elsewhere/yookassa"]


def test_notifications_come_from_the_configured_source_address(merchant):
    """The stand-in for YooKassa's published ranges: the portal's allow-list can be tested against it."""
    app = yookassa_app(merchant.url, YOOKASSA_SANDBOX_NOTIFY_FROM="127.0.0.7")
    server = serve(app)
    try:
        client = YooKassaClient(f"http://127.0.0.1:{server.server_port}", app)
        client.paid_payment()
        [hook] = webhooks(merchant)
    finally:
        server.shutdown()
        app.extensions["yookassa_sandbox"].shutdown()

    assert hook["client"] == "127.0.0.7"


def test_inspection_page_lists_payments_and_deliveries_escaped(yookassa):
    paid = yookassa.paid_payment(metadata={"invoice_id": "<b>42</b>"})

    page = requests.get(f"{yookassa.url}/_control/inspect", timeout=5)

    assert page.headers["Content-Type"].startswith("text/html")
    assert paid["id"] in page.text and "payment.succeeded" in page.text
    assert "&lt;b&gt;42&lt;/b&gt;" in page.text and "<b>42</b>" not in page.text


def test_controls_refuse_bad_values(yookassa):
    for bad in ({"notifications": "sometimes"}, {"webhook_url": "ftp://x"}, {"unknown": 1},
                {"decline_next": ["no_such_reason"]}):
        assert requests.post(f"{yookassa.url}/_control", json=bad, timeout=5).status_code == 400


@pytest.mark.parametrize("path, body", [
    ("/_control/faults", {"operation": "payments.nothing", "fault": "429"}),
    ("/_control/faults", {"operation": "payments.create", "fault": "explode"}),
    ("/_control/decline_next", {"reason": "bad_luck"}),
])
def test_control_endpoints_refuse_unknown_names(yookassa, path, body):
    assert requests.post(yookassa.url + path, json=body, timeout=5).status_code == 400
