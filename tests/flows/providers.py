"""Each provider's sandbox driven the way its widget and its operator would: one driver per provider with
the same few verbs, so a flow test runs once per provider (tests/flows/test_every_provider.py)."""
import requests

from tests.flows.conftest import DECLINED_CARD, LATER_DECLINED_CARD, SUCCESS_CARD


class CloudPaymentsDriver:
    name = "cloudpayments"
    cards = {"success": SUCCESS_CARD, "later_declined": LATER_DECLINED_CARD, "declined": DECLINED_CARD,
             "another": "2202 0000 0000 3055"}

    def __init__(self, live):
        self.url = live.sandbox_url

    def reset(self):
        requests.post(f"{self.url}/control/reset", timeout=10).raise_for_status()

    def pay(self, params, card="success") -> bool:
        """What the widget does when the customer enters the card: True when the provider took the payment."""
        body = {**params, "cardNumber": self.cards[card], "expDate": "12/30", "cvv": "123"}
        body.setdefault("type", params.get("scheme", "charge"))
        return requests.post(f"{self.url}/widget/pay", json=body, timeout=30).json()["Success"] is True

    def charges_for(self, invoice_id) -> list[dict]:
        """Completed charges the provider's books hold for an invoice."""
        return [t for t in requests.get(f"{self.url}/transactions", timeout=10).json()
                if str(t["InvoiceId"]) == str(invoice_id) and t["Status"] == "Completed"]

    def refunded_minor(self) -> list[int]:
        return [round(t["Amount"] * 100) for t in requests.get(f"{self.url}/transactions", timeout=10).json()
                if t["Type"] == 1]

    def refund_in_cabinet(self, transaction_id, amount_minor):
        """A refund staff make in the provider's own cabinet: the portal hears of it by notification."""
        from tests.conftest import SANDBOX_PUBLIC_ID, SANDBOX_SECRET

        answer = requests.post(f"{self.url}/payments/{transaction_id}/refund", json={"Amount": amount_minor / 100},
                               auth=(SANDBOX_PUBLIC_ID, SANDBOX_SECRET), timeout=10)
        assert answer.status_code == 200, answer.text


class YooKassaDriver:
    name = "yookassa"
    cards = {"success": "5555555555554444", "later_declined": "5555555555550103", "declined": "5555555555550517",
             "another": "2200000000000004", "later_expired": "5555555555550111"}

    def __init__(self, live):
        self.url = live.yookassa_url

    def reset(self):
        requests.post(f"{self.url}/_control/reset", timeout=10).raise_for_status()

    def pay(self, params, card="success") -> bool:
        """POST widget/pay with the page's confirmation token: what the embedded widget's form sends."""
        body = {"confirmation_token": params["confirmation_token"], "three_ds": "pass",
                "card": {"number": self.cards[card], "expiry_month": "12", "expiry_year": "2030", "csc": "123"}}
        answer = requests.post(f"{self.url}/widget/pay", json=body, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()["status"] in ("succeeded", "waiting_for_capture")

    def charges_for(self, invoice_id) -> list[dict]:
        return [p for p in requests.get(f"{self.url}/_control/payments", timeout=10).json()
                if str((p.get("metadata") or {}).get("invoice_id")) == str(invoice_id) and p["status"] == "succeeded"]

    def refunded_minor(self) -> list[int]:
        return [round(float(r["amount"]["value"]) * 100)
                for r in requests.get(f"{self.url}/_control/refunds", timeout=10).json()]

    def refund_in_cabinet(self, transaction_id, amount_minor):
        amount = {"value": f"{amount_minor // 100}.{amount_minor % 100:02d}", "currency": "RUB"}
        answer = requests.post(f"{self.url}/_control/payments/{transaction_id}/refund", json={"amount": amount},
                               timeout=10)
        assert answer.status_code == 200, answer.text


DRIVERS = {"cloudpayments": CloudPaymentsDriver, "yookassa": YooKassaDriver}
