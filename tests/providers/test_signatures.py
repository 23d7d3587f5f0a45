"""Notification signatures, checked against HMACs computed by openssl, not by the code under test."""
import shutil
import subprocess

import pytest
from werkzeug.datastructures import Headers

from portal.providers import CloudPaymentsProvider

SECRET = "test-api-secret"

# A Pay notification as the provider escapes it: lowercase hex, "+" for spaces, Cyrillic as UTF-8.
# Description is "подписка на месяц", Name "Иван Петров".
RAW_BODY = (
    b"TransactionId=1000123&Amount=299.00&Currency=RUB&PaymentAmount=299.00&PaymentCurrency=RUB"
    b"&DateTime=2025-01-15+10%3a30%3a00&CardFirstSix=400000&CardLastFour=3055&CardType=Visa"
    b"&CardExpDate=12%2f30&TestMode=1&Status=Completed&OperationType=Payment&InvoiceId=42"
    b"&AccountId=user-7&Email=viewer%40example.com&Name=%d0%98%d0%b2%d0%b0%d0%bd+%d0%9f%d0%b5%d1%82%d1%80%d0%be%d0%b2"
    b"&Description=%d0%bf%d0%be%d0%b4%d0%bf%d0%b8%d1%81%d0%ba%d0%b0+%d0%bd%d0%b0+%d0%bc%d0%b5%d1%81%d1%8f%d1%86"
    b"&Data=%7b%22plan%22%3a%22monthly%22%7d&Token=tk_abc123"
)
# The same body URL-decoded, written out by hand.
DECODED_BODY = (
    "TransactionId=1000123&Amount=299.00&Currency=RUB&PaymentAmount=299.00&PaymentCurrency=RUB"
    "&DateTime=2025-01-15 10:30:00&CardFirstSix=400000&CardLastFour=3055&CardType=Visa"
    "&CardExpDate=12/30&TestMode=1&Status=Completed&OperationType=Payment&InvoiceId=42"
    "&AccountId=user-7&Email=viewer@example.com&Name=Иван Петров"
    "&Description=подписка на месяц"
    '&Data={"plan":"monthly"}&Token=tk_abc123'
).encode()


def openssl_hmac(key: str, message: bytes) -> str:
    """base64(HMAC-SHA256) by `openssl dgst -sha256 -hmac KEY -binary | base64`."""
    result = subprocess.run(
        ["bash", "-c", 'openssl dgst -sha256 -hmac "$HMAC_KEY" -binary | base64'],
        input=message,
        capture_output=True,
        check=True,
        env={"HMAC_KEY": key, "PATH": "/usr/bin:/bin"},
    )
    return result.stdout.decode("ascii").strip()


pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


@pytest.fixture
def provider():
    return CloudPaymentsProvider("pk_test", SECRET, api_url="http://127.0.0.1:9")


@pytest.fixture(scope="module")
def raw_signature():
    return openssl_hmac(SECRET, RAW_BODY)


@pytest.fixture(scope="module")
def decoded_signature():
    return openssl_hmac(SECRET, DECODED_BODY)


def test_correct_content_hmac_is_accepted(provider, raw_signature):
    assert provider.verify_notification(RAW_BODY, {"Content-HMAC": raw_signature})


def test_both_headers_as_the_provider_sends_them_are_accepted(provider, raw_signature, decoded_signature):
    headers = Headers({"Content-HMAC": raw_signature, "X-Content-HMAC": decoded_signature})
    assert provider.verify_notification(RAW_BODY, headers)


@pytest.mark.parametrize("name", ["content-hmac", "CONTENT-HMAC", "Content-Hmac"])
def test_header_names_match_case_insensitively_in_a_plain_dict(provider, raw_signature, name):
    assert provider.verify_notification(RAW_BODY, {name: raw_signature})


@pytest.mark.parametrize(
    "tampered",
    [
        RAW_BODY.replace(b"Amount=299.00", b"Amount=299.01"),
        RAW_BODY.replace(b"InvoiceId=42", b"InvoiceId=43"),
        # Re-encoding with uppercase hex means the same text but other bytes: it must not verify.
        RAW_BODY.replace(b"%d0%bf", b"%D0%BF"),
        RAW_BODY + b"&Status=Completed",
    ],
    ids=["amount", "invoice", "re-encoded", "appended-field"],
)
def test_tampered_body_is_refused(provider, raw_signature, tampered):
    assert not provider.verify_notification(tampered, {"Content-HMAC": raw_signature})


def test_signature_made_with_another_secret_is_refused(provider):
    assert not provider.verify_notification(RAW_BODY, {"Content-HMAC": openssl_hmac("another-secret", RAW_BODY)})


def test_provider_with_another_secret_refuses_a_correct_signature(raw_signature):
    other = CloudPaymentsProvider("pk_test", "another-secret", api_url="http://127.0.0.1:9")
    assert not other.verify_notification(RAW_BODY, {"Content-HMAC": raw_signature})


@pytest.mark.parametrize("headers", [{}, {"Content-Type": "application/x-www-form-urlencoded"}, {"Content-HMAC": ""}])
def test_missing_signature_is_refused(provider, headers):
    assert not provider.verify_notification(RAW_BODY, headers)


def test_x_content_hmac_alone_is_refused_because_the_decoded_form_is_not_what_is_parsed(provider, decoded_signature):
    assert not provider.verify_notification(RAW_BODY, {"X-Content-HMAC": decoded_signature})


def test_wrong_content_hmac_is_not_rescued_by_x_content_hmac(provider, decoded_signature):
    headers = {"Content-HMAC": openssl_hmac("another-secret", RAW_BODY), "X-Content-HMAC": decoded_signature}
    assert not provider.verify_notification(RAW_BODY, headers)


def test_get_notification_is_verified_over_the_raw_query_string(provider):
    query = b"TransactionId=7&Amount=0.10&Description=%d0%bf%d0%be%d0%b4%d0%bf%d0%b8%d1%81%d0%ba%d0%b0+1"
    assert provider.verify_notification(query, {"Content-HMAC": openssl_hmac(SECRET, query)})
