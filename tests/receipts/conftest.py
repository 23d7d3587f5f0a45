"""Receipt flows over real HTTP: the portal and both providers' sandboxes (the `live` fixture), both
providers enabled at once, jobs run by real RQ workers."""
import pytest
import requests

from portal.billing.provider_choice import set_default_provider
from portal.extensions import db
from tests.conftest import YOOKASSA_SECRET, YOOKASSA_SHOP_ID
from tests.flows.conftest import Billing

YOOKASSA_CARD = "5555555555554444"


class ReceiptBilling(Billing):
    """Billing's test helper with the YooKassa sandbox beside the CloudPayments one."""

    def use(self, provider):
        set_default_provider("RUB", provider, actor="staff:test")
        db.session.commit()

    def yookassa(self, method, path, **kwargs):
        return requests.request(method, f"{self.live.yookassa_url}{path}", timeout=30, **kwargs)

    def pay_yookassa(self, params, card=YOOKASSA_CARD):
        answer = self.yookassa("POST", "/widget/pay", json={
            "confirmation_token": params["confirmation_token"],
            "card": {"number": card, "expiry_month": "12", "expiry_year": "2030", "csc": "123"}})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def yookassa_api(self, path, **params):
        return self.yookassa("GET", f"/v3{path}", params=params, auth=(YOOKASSA_SHOP_ID, YOOKASSA_SECRET)).json()


@pytest.fixture
def receipts_billing(app, live):
    for reset in (f"{live.sandbox_url}/control/reset", f"{live.yookassa_url}/_control/reset"):
        assert requests.post(reset, timeout=10).status_code == 200
    return ReceiptBilling(live)
