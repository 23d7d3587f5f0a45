"""YooKassa adapter (shared/yookassa.md): the embedded widget's payment, saved-method charges, two-stage
holds for card checks, refunds, and notifications authenticated by the sender's address and confirmed by
fetching the object from the API before anything is applied (YooKassa does not sign them)."""
from __future__ import annotations

import ipaddress
import json
import logging
import re
from collections.abc import Mapping

import requests

from portal.ops import metrics
from portal.providers import yookassa_models as models
from portal.providers import yookassa_receipts as receipts
from portal.providers.base import (
    Decline,
    InvalidNotification,
    Notification,
    PaymentDeclined,
    PaymentProvider,
    ProviderError,
    Reception,
    RefundResult,
    RetryableProviderError,
    TokenCharge,
    Transaction,
    WebAnswer,
    WidgetRequest,
)
from portal.providers.call_slots import call_slots_from_config
from portal.providers.http import ProviderHttp
from portal.providers.registry import required_setting

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.yookassa.ru/v3"
DEFAULT_WIDGET_URL = "https://yookassa.ru/checkout-widget/v1/checkout-widget.js"
DEFAULT_TIMEOUT = (3.05, 30)  # the SDK sets none; a call of ours is always bounded
# The addresses YooKassa posts notifications from (its published list).
PUBLISHED_NETWORKS = ("185.71.76.0/27", "185.71.77.0/27", "77.75.153.0/25", "77.75.154.128/25",
                      "77.75.156.11/32", "77.75.156.35/32", "2a02:5180::/32")
_ID_IN_PATH = re.compile(r"/[0-9A-Za-z-]{20,64}")
# How many pages of GET /payments reconciliation reads looking for an invoice's payment.
LOOKUP_PAGES = 5


class YooKassaProvider(PaymentProvider):
    """YooKassa API v3 over HTTP Basic auth (shop id : secret key), JSON, an Idempotence-Key on every POST."""

    name = "yookassa"
    notification_kinds = None  # every event comes to /webhooks/yookassa
    settling_kinds = ("payment.succeeded", "payment.waiting_for_capture")
    failure_kinds = ("payment.canceled",)
    confirms_notifications = True
    authentication_failure = "sender not in the provider's published address ranges"

    def __init__(self, shop_id: str, secret_key: str, api_url: str = DEFAULT_API_URL,
                 widget_url: str = DEFAULT_WIDGET_URL, timeout: tuple[float, float] = DEFAULT_TIMEOUT, *,
                 trusted_networks=PUBLISHED_NETWORKS, call_slots=None):
        if not shop_id or not secret_key:
            raise ProviderError("YooKassa needs both a shop id and a secret key")
        self.shop_id = shop_id
        self._secret_key = secret_key
        self.api_url = api_url.rstrip("/")
        self.widget_script_url = widget_url
        self.timeout = timeout
        self.trusted_networks = tuple(ipaddress.ip_network(n.strip(), strict=False) for n in trusted_networks)
        self._http = ProviderHttp("YooKassa", (shop_id, secret_key), timeout, call_slots)

    @classmethod
    def from_config(cls, config: Mapping) -> YooKassaProvider:
        shop_id = required_setting(config, "YOOKASSA_SHOP_ID")
        networks = config.get("YOOKASSA_TRUSTED_NETWORKS") or PUBLISHED_NETWORKS
        if isinstance(networks, str):
            networks = [n for n in networks.split(",") if n.strip()]
        try:
            return cls(shop_id, required_setting(config, "YOOKASSA_SECRET_KEY"),
                       api_url=config.get("YOOKASSA_API_URL") or DEFAULT_API_URL,
                       widget_url=config.get("YOOKASSA_WIDGET_URL") or DEFAULT_WIDGET_URL,
                       trusted_networks=networks,
                       call_slots=call_slots_from_config(config, f"yookassa:{shop_id}",
                                                         lease_seconds=sum(DEFAULT_TIMEOUT) + 5))
        except ValueError as error:
            raise ProviderError(f"YOOKASSA_TRUSTED_NETWORKS: {error}") from None

    def __repr__(self) -> str:
        return f"<YooKassaProvider {self.shop_id} at {self.api_url}>"

    # --- browser widget -------------------------------------------------------------------------

    def widget_params(self, req: WidgetRequest) -> dict:
        """A payment for this attempt of the invoice (made once: the same key answers the same payment),
        and the confirmation token the embedded widget opens with. A card check holds the money (two
        stages) and is cancelled once the card is proven; any other payment is captured at once."""
        locale = "en_US" if (req.locale or "ru").startswith("en") else "ru_RU"
        body = {
            "amount": models.amount(req.amount_minor, req.currency),
            "capture": req.scheme != "auth",
            "save_payment_method": True,
            "confirmation": {"type": "embedded", "locale": locale},
            "description": req.description[:128],
            "metadata": models.metadata(req.invoice_id, req.account_id, attempt=req.attempt, **req.data),
            **receipts.receipt_field(req.receipt),
        }
        key = f"inv-{req.invoice_id}-a{req.attempt}-{locale[:2]}"
        payment = self._call("POST", "/payments", body, key=key)
        token = (payment.get("confirmation") or {}).get("confirmation_token")
        if not token:
            # The attempt's payment was made and left pending already (paid, or declined): the page will
            # show the outcome; a new attempt gets a new payment.
            raise ProviderError(f"YooKassa payment {payment.get('id')} for invoice {req.invoice_id} has no "
                                "confirmation token any more")
        return {"confirmation_token": token, "payment_id": payment["id"]}

    # --- notifications --------------------------------------------------------------------------

    def verify_notification(self, raw_body: bytes, headers: Mapping[str, str],
                            remote_addr: str | None = None) -> bool:
        """The sender's address (as PROXY_HOPS resolves it) in the published ranges; the content is
        trusted only once confirmed through the API (`confirmed`)."""
        try:
            address = ipaddress.ip_address((remote_addr or "").strip())
        except ValueError:
            return False
        return any(address in network for network in self.trusted_networks)

    def parse_notification(self, kind: str | None, raw_body: bytes, content_type: str | None) -> Notification:
        try:
            document = json.loads(raw_body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise InvalidNotification("notification body is not JSON") from None
        return models.notification(document)

    def confirmed(self, notification: Notification) -> Notification:
        """The object as the API returns it now, as the notification of its current state. An object the
        provider does not have (a forged notification) is one that can never apply."""
        refund = notification.kind.startswith("refund.")
        path = f"/{'refunds' if refund else 'payments'}/{notification.transaction_id}"
        found = self._call("GET", path, missing_ok=True)
        if found is None:
            raise InvalidNotification(f"{notification.kind} notification for {notification.transaction_id}, which "
                                      "YooKassa does not have: not applied")
        if refund:
            return models.refund_notification(notification.kind, found)
        return models.payment_notification(notification.kind, found)

    def answer(self, reception: Reception) -> WebAnswer:
        """200 with an empty object once stored (the provider reads only the status); the reason otherwise."""
        if reception.status == 200:
            return WebAnswer(200, {})
        return WebAnswer(reception.status, {"message": reception.message})

    @classmethod
    def decline_of(cls, reason_code: int | None, reason: str | None) -> Decline:
        return models.decline(reason)

    # --- API: money movements -------------------------------------------------------------------

    def charge_token(self, charge: TokenCharge) -> Transaction:
        return self._saved_method_payment(charge, capture=True)

    def authorize_token(self, charge: TokenCharge) -> Transaction:
        return self._saved_method_payment(charge, capture=False)

    def confirm(self, transaction_id: str, amount_minor: int, *, request_id: str) -> None:
        payment = self._call("GET", f"/payments/{transaction_id}")
        body = {"amount": models.amount(amount_minor, payment["amount"]["currency"])}
        self._call("POST", f"/payments/{transaction_id}/capture", body, key=request_id)

    def void(self, transaction_id: str, *, request_id: str) -> None:
        """Cancel a hold; one cancelled already (by us before, or expired) is void as asked."""
        try:
            self._call("POST", f"/payments/{transaction_id}/cancel", None, key=request_id)
        except ProviderError as error:
            if isinstance(error, RetryableProviderError) or error.http_status != 400:
                raise
            if self._call("GET", f"/payments/{transaction_id}").get("status") != "canceled":
                raise

    def refund(self, transaction_id: str, amount_minor: int, *, request_id: str,
               receipt=None) -> RefundResult:
        payment = self._call("GET", f"/payments/{transaction_id}")
        refund = self._call("POST", "/refunds", {
            "payment_id": transaction_id, "amount": models.amount(amount_minor, payment["amount"]["currency"]),
            **receipts.receipt_field(receipt)}, key=request_id)
        return RefundResult(refund_transaction_id=refund["id"], amount_minor=amount_minor)

    def receipt_payload(self, receipt) -> dict:
        return receipts.receipt_object(receipt)

    polls_receipts = True

    def receipt_answers(self, payment_transaction_id, refund_id=None):
        """GET /receipts for the payment (or the refund): every receipt the till made for it, as it stands."""
        query = {"refund_id": refund_id} if refund_id else {"payment_id": payment_transaction_id}
        page = self._call("GET", "/receipts", params=query)
        return [receipts.fiscal_answer(item, payment_transaction_id) for item in page.get("items") or []]

    registers_receipts = True

    def register_receipt(self, payment_transaction_id, receipt, *, refund_id=None, request_id):
        """POST /receipts ("payment first, receipt later"): the same positions, settled by card."""
        body = {**receipts.registration(receipt, payment_transaction_id, refund_id)}
        answer = self._call("POST", "/receipts", body, key=request_id)
        return receipts.fiscal_answer(answer, payment_transaction_id)

    # --- API: lookups ---------------------------------------------------------------------------

    def find_by_invoice(self, invoice_id: str | int) -> Transaction | None:
        """The newest payment whose metadata names the invoice, among the latest pages of payments."""
        cursor = None
        for _ in range(LOOKUP_PAGES):
            query = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = self._call("GET", "/payments", params=query)
            for payment in page.get("items") or []:
                if str((payment.get("metadata") or {}).get("invoice_id")) == str(invoice_id):
                    return models.transaction(payment)
            cursor = page.get("next_cursor")
            if not cursor:
                return None
        return None

    def get_transaction(self, transaction_id: str) -> Transaction | None:
        payment = self._call("GET", f"/payments/{transaction_id}", missing_ok=True)
        return models.transaction(payment) if payment is not None else None

    # --- internals ------------------------------------------------------------------------------

    def _saved_method_payment(self, charge: TokenCharge, *, capture: bool) -> Transaction:
        body = {
            "amount": models.amount(charge.amount_minor, charge.currency),
            "capture": capture,
            "payment_method_id": charge.token,
            "description": charge.description[:128],
            "metadata": models.metadata(charge.invoice_id, charge.account_id),
            **receipts.receipt_field(charge.receipt),
        }
        payment = self._call("POST", "/payments", body, key=charge.request_id)
        if payment.get("status") == "pending":
            # Usually final at once; a repeat with the same key replays this first answer, so the
            # payment's state is asked for itself.
            payment = self._call("GET", f"/payments/{payment['id']}")
        transaction = models.transaction(payment)
        if transaction.status == "pending":
            raise RetryableProviderError(f"YooKassa payment {payment['id']} is still pending")
        if transaction.decline is not None:
            log.info("yookassa charge declined: %s", transaction.reason)
            raise PaymentDeclined(transaction)
        return transaction

    def _call(self, method: str, path: str, body: dict | None = None, *, key: str | None = None,
              params: dict | None = None, missing_ok: bool = False) -> dict | None:
        headers = {"Content-Type": "application/json"}
        if method == "POST":
            headers["Idempotence-Key"] = key or _missing_key(path)
        data = json.dumps(body).encode() if body is not None else b""
        response = self._http.request(method, f"{self.api_url}{path}", f"{method} {path}", data=data or None,
                                      params=params, headers=headers)
        status = response.status_code
        log.info("yookassa %s %s key=%s -> HTTP %s", method, path, key, status)
        # One label per endpoint, not per object: ids are left out.
        metrics.provider_call(self.name, f"{method} {_ID_IN_PATH.sub('/{id}', path)}", status,
                              response.elapsed.total_seconds())
        if status == 404 and missing_ok:
            return None
        if status == 200:
            try:
                answer = response.json()
            except ValueError:
                raise ProviderError(f"YooKassa {method} {path} answered with something that is not JSON") from None
            if not isinstance(answer, dict):
                raise ProviderError(f"YooKassa {method} {path} answered without an object")
            return answer
        described = f"YooKassa {method} {path} answered HTTP {status}: {_description(response)}"
        if status in (202, 429) or status >= 500:
            raise RetryableProviderError(described, http_status=status)
        if status in (401, 403):
            raise ProviderError(f"{described}; check YOOKASSA_SHOP_ID and YOOKASSA_SECRET_KEY", http_status=status)
        raise ProviderError(described, http_status=status)


def _description(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return "no JSON error body"
    if not isinstance(body, dict):
        return "no error object"
    return f"{body.get('code') or 'error'}: {body.get('description') or ''} {body.get('parameter') or ''}".strip()


def _missing_key(path: str) -> str:
    raise ProviderError(f"YooKassa POST {path} without an Idempotence-Key: every POST needs a stable key")

