"""CloudPayments notifications as the provider adapter reads them (portal/providers/cloudpayments_notifications.py
through CloudPaymentsProvider): the signature over the raw bytes, and every field's documented form."""
import base64
import hashlib
import hmac

import pytest

from portal.providers import CloudPaymentsProvider

SECRET = "rules-secret"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def provider():
    return CloudPaymentsProvider("pk_rules", SECRET, api_url="http://127.0.0.1:9")


def sign(body: bytes, secret=SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


BODY = b"TransactionId=77&Amount=299.00&Currency=RUB&InvoiceId=5&AccountId=ext-1"


@pytest.mark.parametrize("kind", ["Pay", "PAY", "pay"])
def test_the_kind_is_read_whatever_its_case(provider, kind):
    assert provider.parse_notification(kind, BODY, FORM).kind == "pay"
