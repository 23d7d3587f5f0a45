"""Receipt flows over real HTTP: the portal and both providers' sandboxes (the `live` fixture), both
providers enabled at once, jobs run by real RQ workers."""
import pytest
import requests

from portal.billing.provider_choice import set_default_provider
from portal.extensions import db
from tests.conftest import YOOKASSA_SECRET, YOOKASSA_SHOP_ID
from tests.flows.conftest import Billing
from tests.flows.providers import DRIVERS


class ReceiptBilling(Billing):
    """Billing's test helper with the YooKassa sandbox beside the CloudPayments one."""

    def use(self, provider):
        set_default_provider("RUB", provider, actor="staff:test")
        db.session.commit()

    def yookassa(self, method, path, **kwargs):
        return requests.request(method, f"{self.live.yookassa_url}{path}", timeout=30, **kwargs)

    def pay_with(self, provider, params) -> bool:
        """What the provider's widget does with the test card that succeeds (tests/flows/providers.py)."""
        return DRIVERS[provider](self.live).pay(params)

    def yookassa_api(self, path, **params):
        return self.yookassa("GET", f"/v3{path}", params=params, auth=(YOOKASSA_SHOP_ID, YOOKASSA_SECRET)).json()


@pytest.fixture
def receipts_billing(app, live):
    for driver in DRIVERS.values():
        driver(live).reset()
    return ReceiptBilling(live)
