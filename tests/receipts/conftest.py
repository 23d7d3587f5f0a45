"""Receipt flows over real HTTP: the portal, the CloudPayments sandbox (the `live` fixture) and the YooKassa
sandbox, both providers enabled at once, jobs run by real RQ workers."""
import threading
from types import SimpleNamespace

import pytest
import requests
from werkzeug.serving import make_server

from portal.billing.provider_choice import set_default_provider
from portal.extensions import db
from portal.providers import forget_providers
from tests.flows.conftest import Billing

SHOP_ID = "100777"
SECRET_KEY = "test_portal-receipts-secret"
YOOKASSA_CARD = "5555555555554444"


@pytest.fixture(scope="module")
def both_providers(live, migrated_app):
    """The YooKassa sandbox served beside the CloudPayments one, and the portal configured with both."""
    from portal.sandbox.yookassa import create_app as create_yookassa

    sandbox = create_yookassa({"YOOKASSA_SHOP_ID": SHOP_ID, "YOOKASSA_SECRET_KEY": SECRET_KEY,
                               "SANDBOX_MERCHANT_URL": live.portal_url, "SANDBOX_NOTIFY_SCHEDULE": "0.5,1,2"})
    server = make_server("127.0.0.1", 0, sandbox, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    settings = {"PAYMENT_PROVIDERS": "sandbox,yookassa", "YOOKASSA_SHOP_ID": SHOP_ID,
                "YOOKASSA_SECRET_KEY": SECRET_KEY, "YOOKASSA_API_URL": f"{url}/v3",
                "YOOKASSA_WIDGET_URL": f"{url}/widget.js", "YOOKASSA_TRUSTED_NETWORKS": "127.0.0.0/8"}
    before = {key: migrated_app.config.get(key) for key in settings}
    migrated_app.config.update(settings)
    forget_providers(migrated_app)
    yield SimpleNamespace(**vars(live), yookassa_url=url)
    migrated_app.config.update(before)
    forget_providers(migrated_app)
    server.shutdown()
    sandbox.extensions["yookassa_sandbox"].shutdown()


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

    def yookassa_payment(self, payment_id):
        return self.yookassa("GET", f"/v3/payments/{payment_id}", auth=(SHOP_ID, SECRET_KEY)).json()


@pytest.fixture
def receipts_billing(app, both_providers):
    requests.post(f"{both_providers.sandbox_url}/control/reset", timeout=10)
    requests.post(f"{both_providers.yookassa_url}/_control/reset", timeout=10)
    return ReceiptBilling(both_providers)
