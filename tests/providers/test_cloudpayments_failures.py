"""How provider trouble reaches billing: throttling, outages, timeouts, wrong credentials."""
import socket
import threading

import pytest

from portal.providers import (
    CloudPaymentsProvider,
    PaymentDeclined,
    ProviderError,
    RetryableProviderError,
)
from tests.providers.support import API_SECRET, PUBLIC_ID, charge_args, next_invoice_id


def test_over_the_concurrency_limit_is_retryable(provider, sandbox):
    sandbox.control(concurrency_limit=1, latency_ms=400)
    outcomes = []
    lock = threading.Lock()

    def look_up():
        try:
            provider.find_by_invoice("no-such-invoice")
            outcome = "answered"
        except RetryableProviderError as error:
            outcome = error.http_status
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=look_up) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert 429 in outcomes
    assert "answered" in outcomes


def test_provider_server_error_is_retryable_and_the_retry_charges_once(provider, saved_card, sandbox, today):
    token = saved_card()
    invoice_id = next_invoice_id()
    args = charge_args(token, invoice_id)
    sandbox.control(fail_next=1)

    with pytest.raises(RetryableProviderError) as failure:
        provider.charge_token(args)
    assert failure.value.http_status >= 500

    payment = provider.charge_token(args)
    assert payment.status == "completed"
    listed = [tx for tx in sandbox.payments_on(today) if str(tx.get("InvoiceId")) == str(invoice_id)]
    assert len(listed) == 1


def test_slow_provider_times_out_as_retryable(sandbox):
    impatient = CloudPaymentsProvider(PUBLIC_ID, API_SECRET, api_url=sandbox.url, timeout=(2, 0.2))
    sandbox.control(latency_ms=1500)

    with pytest.raises(RetryableProviderError, match="timed out"):
        impatient.get_transaction("1")


def test_charge_that_times_out_is_retryable_and_the_retry_charges_once(provider, sandbox, saved_card, today):
    impatient = CloudPaymentsProvider(PUBLIC_ID, API_SECRET, api_url=sandbox.url, timeout=(2, 0.5))
    invoice_id = next_invoice_id()
    args = charge_args(saved_card(), invoice_id)
    sandbox.control(timeout_next=1)

    with pytest.raises(RetryableProviderError, match="timed out"):
        impatient.charge_token(args)

    # The sandbox may have charged before going silent: the same request id must not charge again.
    payment = provider.charge_token(args)
    assert payment.status == "completed"
    listed = [tx for tx in sandbox.payments_on(today) if str(tx.get("InvoiceId")) == str(invoice_id)]
    assert len(listed) == 1


def test_wrong_secret_is_a_credentials_error_without_the_secret(sandbox):
    wrong_secret = "definitely-not-the-secret"
    intruder = CloudPaymentsProvider(PUBLIC_ID, wrong_secret, api_url=sandbox.url)

    with pytest.raises(ProviderError) as failure:
        intruder.get_transaction("1")

    assert not isinstance(failure.value, (RetryableProviderError, PaymentDeclined))
    assert failure.value.http_status == 401
    assert "credentials" in failure.value.message
    assert wrong_secret not in str(failure.value)
    assert API_SECRET not in str(failure.value)


def test_unreachable_provider_is_retryable():
    # A port that was just free: nothing listens there, so the connection is refused.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = CloudPaymentsProvider(PUBLIC_ID, API_SECRET, api_url=f"http://127.0.0.1:{port}", timeout=(1, 1))

    with pytest.raises(RetryableProviderError, match="unreachable"):
        provider.void("1", request_id="void-1")
