"""/metrics: open to scrapers on this machine, others need METRICS_TOKEN; counters move when what they count
commits, backlogs are read when scraped."""
from datetime import timedelta

import pytest

from portal import clock
from portal.extensions import db
from portal.machines import atomic, fire, lock
from portal.models import OutboxMessage, Payment, Subscription
from portal.providers import CloudPaymentsProvider
from portal.queue import enqueue
from tests.conftest import SANDBOX_PUBLIC_ID, SANDBOX_SECRET
from tests.factories import make_invoice, make_subscription
from tests.ops.support import metric
from tests.providers.support import look_up_side_by_side


def scrape(client, **headers) -> str:
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Content-Type"].startswith("text/plain")
    return answer.get_data(as_text=True)


def value(text: str, name: str, **labels) -> float:
    return metric(text, name, **labels) or 0.0


def test_metrics_answer_this_machine_and_anyone_else_only_with_the_token(app, client):
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    remote = app.test_client()
    remote.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    refused = remote.get("/metrics")
    assert refused.status_code == 401 and "METRICS_TOKEN" in refused.get_data(as_text=True)
    assert remote.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert remote.get("/metrics", headers={"Authorization": "Bearer test-metrics-token"}).status_code == 200
    # Through a proxy on this machine the client is not this machine.
    assert client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.4"}).status_code == 401


def test_a_forged_notification_is_counted_rejected_with_its_reason(app, client):
    before = scrape(client)
    answer = client.post("/webhooks/cloudpayments/pay", data={"TransactionId": "1", "Amount": "1.00"},
                         headers={"Content-HMAC": "forged"})
    assert answer.status_code != 200 or answer.json.get("code") != 0
    after = scrape(client)
    labels = {"provider": "cloudpayments", "kind": "pay", "reason": "signature missing or invalid"}
    assert value(after, "portal_notifications_rejected_total", **labels) == \
        value(before, "portal_notifications_rejected_total", **labels) + 1
    assert value(after, "portal_notifications_received_total", kind="pay", status=str(answer.status_code)) == \
        value(before, "portal_notifications_received_total", kind="pay", status=str(answer.status_code)) + 1
    assert value(after, "portal_http_request_duration_seconds_count", route="/webhooks/cloudpayments/<kind>") >= 1


def test_a_transition_is_counted_once_committed_and_never_when_rolled_back(app, client):
    sub = make_subscription(status="active")
    labels = {"entity": "subscription", "event": "mark_past_due", "to_state": "past_due"}
    before = value(scrape(client), "portal_transitions_total", **labels)

    with pytest.raises(RuntimeError), atomic():
        fire(lock(Subscription, sub.id), "mark_past_due", actor="test", cause="rolled back")
        raise RuntimeError("the transaction fails after the transition")
    assert value(scrape(client), "portal_transitions_total", **labels) == before

    with atomic():
        fire(lock(Subscription, sub.id), "mark_past_due", actor="test", cause="committed")
    assert value(scrape(client), "portal_transitions_total", **labels) == before + 1


@pytest.mark.parametrize("provider,code,reason,category", [
    ("cloudpayments", 5051, "Insufficient funds", "insufficient_funds"),
    ("cloudpayments", 5041, "Lost Card", "never_retry"),
    ("yookassa", None, "card_expired", "expired_card"),
    ("yookassa", None, "issuer_unavailable", "try_later"),
    ("yookassa", None, "something_new", "other"),
])
def test_a_decline_is_counted_by_its_provider_and_neutral_category(app, client, provider, code, reason, category):
    invoice = make_invoice()
    labels = {"provider": provider, "category": category}
    before = value(scrape(client), "portal_payment_declines_total", **labels)
    with atomic():
        payment = Payment(provider=provider, provider_transaction_id=f"{provider}-{reason}", invoice_id=invoice.id,
                          customer_id=invoice.customer_id, amount=invoice.amount, currency=invoice.currency,
                          reason_code=code, reason=reason)
        db.session.add(payment)
        fire(payment, "decline", actor="provider", cause="fail notification")
    assert value(scrape(client), "portal_payment_declines_total", **labels) == before + 1


def test_backlogs_are_read_when_scraped(app, client):
    db.session.add(OutboxMessage(routing_key="subscription.renewed", aggregate_type="subscription", aggregate_id=1,
                                 payload={}, created_at=clock.now() - timedelta(seconds=90),
                                 publish_attempts=0))
    db.session.commit()
    enqueue("workers.ticks.renewals", job_id="metrics-test-tick")
    enqueue("workers.mail.deliver", 1, job_id="metrics-test-mail")

    text = scrape(client)
    assert value(text, "portal_outbox_backlog") == 1
    assert value(text, "portal_outbox_relay_lag_seconds") >= 90
    assert value(text, "portal_rq_jobs", queue="billing", state="queued") == 1
    assert value(text, "portal_rq_jobs", queue="mail", state="queued") == 1
    assert value(text, "portal_rq_jobs", state="failed") == 0


def test_provider_calls_are_timed_and_429s_counted(app, client, billing):
    billing.sandbox("POST", "/control", json={"concurrency_limit": 1, "latency_ms": 300})
    provider = CloudPaymentsProvider(SANDBOX_PUBLIC_ID, SANDBOX_SECRET, api_url=billing.live.sandbox_url,
                                     timeout=(2, 10))
    before = scrape(client)

    answers = look_up_side_by_side(provider, 4)
    throttled = answers.count(429)
    assert throttled >= 1

    after = scrape(client)
    assert value(after, "portal_provider_throttled_total", endpoint="payments/find") == \
        value(before, "portal_provider_throttled_total", endpoint="payments/find") + throttled
    assert value(after, "portal_provider_call_duration_seconds_count", endpoint="payments/find") == \
        value(before, "portal_provider_call_duration_seconds_count", endpoint="payments/find") + 4
