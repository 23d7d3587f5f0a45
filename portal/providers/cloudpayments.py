"""CloudPayments adapter: widget parameters, notifications and the HTTP API (also used for the sandbox)."""
from __future__ import annotations

import logging
from collections.abc import Mapping

import requests

from portal.providers import cloudpayments_notifications as notifications
from portal.providers import cloudpayments_receipts as receipts
from portal.providers import reason_codes
from portal.providers.base import (
    NOTIFICATION_KINDS,
    CheckDecision,
    Decline,
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
from portal.providers.cloudpayments_models import (
    Fields,
    looks_like_transaction,
    parse_transaction,
    to_major,
)
from portal.providers.http import ProviderHttp
from portal.providers.registry import required_setting

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.cloudpayments.ru"
DEFAULT_WIDGET_URL = "https://widget.cloudpayments.ru/bundles/cloudpayments.js"
DEFAULT_TIMEOUT = (3.05, 30)  # (connect, read) seconds
# The emulator's built-in credentials; they guard nothing, so a sandbox config may leave them out.
SANDBOX_PUBLIC_ID = "pk_sandbox"
SANDBOX_API_SECRET = "sandbox-secret"


# The Check answer's code for each of billing's decisions (shared/cloudpayments.md).
CHECK_CODES = {
    CheckDecision.ACCEPT: 0,
    CheckDecision.UNKNOWN_INVOICE: 10,
    CheckDecision.WRONG_ACCOUNT: 11,
    CheckDecision.WRONG_AMOUNT: 12,
    CheckDecision.NOT_PAYABLE: 13,
    CheckDecision.EXPIRED: 20,
}
# Any notification refused (forged, unreadable, too large, unknown type) is answered with this code.
REFUSED_CODE = 13


class CloudPaymentsProvider(PaymentProvider):
    """CloudPayments over its JSON API with HTTP Basic auth (Public ID : API Secret)."""

    name = "cloudpayments"
    notification_kinds = NOTIFICATION_KINDS
    batched_kinds = settling_kinds = ("pay", "confirm")
    failure_kinds = ("fail",)

    def __init__(
        self,
        public_id: str,
        api_secret: str,
        api_url: str = DEFAULT_API_URL,
        widget_url: str = DEFAULT_WIDGET_URL,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        *,
        widget_skin: str = "classic",
        call_slots=None,
    ):
        if not public_id or not api_secret:
            raise ProviderError("CloudPayments needs both a Public ID and an API Secret")
        self.public_id = public_id
        self._api_secret = api_secret
        self.api_url = api_url.rstrip("/")
        self.widget_script_url = widget_url
        self.timeout = timeout
        self.widget_skin = widget_skin
        self.call_slots = call_slots  # the terminal's concurrency limit, shared by all processes (or None)
        self._http = ProviderHttp("CloudPayments", (public_id, api_secret), timeout, call_slots)

    @classmethod
    def from_config(cls, config: Mapping) -> CloudPaymentsProvider:
        public_id = required_setting(config, "CLOUDPAYMENTS_PUBLIC_ID")
        return cls(
            public_id=public_id,
            api_secret=required_setting(config, "CLOUDPAYMENTS_API_SECRET"),
            api_url=config.get("CLOUDPAYMENTS_API_URL") or DEFAULT_API_URL,
            widget_url=config.get("CLOUDPAYMENTS_WIDGET_URL") or DEFAULT_WIDGET_URL,
            call_slots=_call_slots(config, public_id),
        )

    def __repr__(self) -> str:
        return f"<CloudPaymentsProvider {self.public_id} at {self.api_url}>"

    # --- browser widget -------------------------------------------------------------------------

    def widget_params(self, req: WidgetRequest) -> dict:
        params = {
            "publicId": self.public_id,
            "description": req.description,
            "amount": to_major(req.amount_minor),
            "currency": req.currency,
            "accountId": req.account_id,
            "invoiceId": str(req.invoice_id),
            "skin": self.widget_skin,
            "data": receipts.json_data(req.receipt, req.data) or {},
        }
        if req.email:
            params["email"] = req.email
        return params

    # --- notifications --------------------------------------------------------------------------

    def verify_notification(self, raw_body: bytes, headers: Mapping[str, str],
                            remote_addr: str | None = None) -> bool:
        return notifications.verify_signature(self._api_secret, raw_body, headers)

    def parse_notification(self, kind: str | None, raw_body: bytes, content_type: str | None) -> Notification:
        return notifications.parse_notification(kind, raw_body, content_type)

    def answer(self, reception: Reception) -> WebAnswer:
        """{"code": 0} for a stored notification, the Check's code for a Check, 13 with the reason (and
        the HTTP status billing chose) for anything refused."""
        if reception.check is not None:
            return WebAnswer(200, {"code": CHECK_CODES[reception.check]})
        if reception.status == 200:
            return WebAnswer(200, {"code": 0})
        return WebAnswer(reception.status, {"code": REFUSED_CODE, "message": reception.message})

    @classmethod
    def decline_of(cls, reason_code: int | None, reason: str | None) -> Decline:
        return reason_codes.decline(reason_code, reason)

    @classmethod
    def reason_name(cls, reason_code: int | None, reason: str | None) -> str | None:
        return reason_codes.reason_name(reason_code) or reason

    # --- API: money movements -------------------------------------------------------------------

    def charge_token(self, charge: TokenCharge) -> Transaction:
        return self._token_payment("payments/tokens/charge", charge)

    def authorize_token(self, charge: TokenCharge) -> Transaction:
        return self._token_payment("payments/tokens/auth", charge)

    def confirm(self, transaction_id: str, amount_minor: int, *, request_id: str) -> None:
        payload = {"TransactionId": _wire_id(transaction_id), "Amount": to_major(amount_minor)}
        self._expect_success("payments/confirm", self._post("payments/confirm", payload, request_id))

    def void(self, transaction_id: str, *, request_id: str) -> None:
        payload = {"TransactionId": _wire_id(transaction_id)}
        self._expect_success("payments/void", self._post("payments/void", payload, request_id))

    def refund(self, transaction_id: str, amount_minor: int, *, request_id: str,
               receipt=None) -> RefundResult:
        payload = {"TransactionId": _wire_id(transaction_id), "Amount": to_major(amount_minor)}
        if receipt is not None:  # the return receipt for what is given back (a partial refund: that part)
            payload["JsonData"] = receipts.json_data(receipt)
        envelope = self._post("payments/refund", payload, request_id)
        self._expect_success("payments/refund", envelope)
        model = envelope.get("model")
        refund_id = Fields(model).text("TransactionId") if isinstance(model, Mapping) else None
        if refund_id is None:
            raise ProviderError("CloudPayments payments/refund answered without the refund's TransactionId")
        return RefundResult(refund_transaction_id=refund_id, amount_minor=amount_minor)

    def receipt_payload(self, receipt) -> dict:
        return receipts.json_data(receipt)

    # --- API: lookups ---------------------------------------------------------------------------

    def find_by_invoice(self, invoice_id: str | int) -> Transaction | None:
        return self._lookup("payments/find", {"InvoiceId": str(invoice_id)})

    def get_transaction(self, transaction_id: str) -> Transaction | None:
        return self._lookup("payments/get", {"TransactionId": _wire_id(transaction_id)})

    # --- internals ------------------------------------------------------------------------------

    def _token_payment(self, endpoint: str, charge: TokenCharge) -> Transaction:
        payload = {
            "Amount": to_major(charge.amount_minor),
            "Currency": charge.currency,
            "AccountId": charge.account_id,
            "Token": charge.token,
            # Renewals and dunning run without the customer: the issuer must be told it is a
            # merchant-initiated, scheduled charge, or it may decline for a missing cardholder.
            "TrInitiatorCode": 1 if charge.customer_present else 0,
            "PaymentScheduled": 0 if charge.customer_present else 1,
            "Description": charge.description,
        }
        if charge.invoice_id is not None:
            payload["InvoiceId"] = str(charge.invoice_id)
        if charge.email:
            payload["Email"] = charge.email
        if charge.receipt is not None:
            payload["JsonData"] = receipts.json_data(charge.receipt)
        envelope = self._post(endpoint, payload, charge.request_id)
        model = envelope.get("model")
        if not looks_like_transaction(model):
            self._expect_success(endpoint, envelope)
            raise ProviderError(f"CloudPayments {endpoint} answered without a transaction")
        transaction = self._transaction(endpoint, model)
        # Success speaks of the request; a declined charge comes back as Success false with its transaction.
        if not envelope["success"] or transaction.status == "declined":
            log.info("cloudpayments %s declined: code %s", endpoint, transaction.reason_code)
            raise PaymentDeclined(transaction)
        return transaction

    def _lookup(self, endpoint: str, payload: dict) -> Transaction | None:
        envelope = self._post(endpoint, payload)
        model = envelope.get("model")
        # A declined transaction is found with Success false, so the Model decides, not Success.
        if looks_like_transaction(model):
            return self._transaction(endpoint, model)
        if not envelope["success"] and (envelope.get("message") or "").strip().lower() == "not found":
            return None
        self._expect_success(endpoint, envelope)
        raise ProviderError(f"CloudPayments {endpoint} answered without a transaction")

    def _transaction(self, endpoint: str, model: Mapping) -> Transaction:
        try:
            return parse_transaction(model)
        except ValueError as error:
            raise ProviderError(
                f"CloudPayments {endpoint} returned an unreadable transaction: {error}"
            ) from None

    def _expect_success(self, endpoint: str, envelope: dict) -> None:
        if not envelope["success"]:
            raise ProviderError(
                f"CloudPayments {endpoint} refused: {envelope.get('message') or 'no message'}"
            )

    def _post(self, endpoint: str, payload: dict, request_id: str | None = None) -> dict:
        """POST one API call; returns the envelope as {"success", "message", "model"} or raises."""
        headers = {"X-Request-ID": request_id} if request_id else {}
        response = self._http.request("POST", f"{self.api_url}/{endpoint}", endpoint, json=payload, headers=headers)

        status = response.status_code
        log.info("cloudpayments %s request_id=%s -> HTTP %s", endpoint, request_id, status)
        if status in (401, 403):
            raise ProviderError(
                f"CloudPayments rejected the API credentials (HTTP {status}): check "
                "CLOUDPAYMENTS_PUBLIC_ID and CLOUDPAYMENTS_API_SECRET",
                http_status=status,
            )
        if status == 429:
            raise RetryableProviderError(
                f"CloudPayments {endpoint} throttled: too many concurrent requests (HTTP 429)",
                http_status=status,
            )
        if status >= 500:
            raise RetryableProviderError(
                f"CloudPayments {endpoint} failed on the provider side (HTTP {status})", http_status=status
            )
        if status >= 400:
            raise ProviderError(
                f"CloudPayments {endpoint} rejected the request (HTTP {status})", http_status=status
            )
        return _envelope(endpoint, response)


def sandbox_from_config(config: Mapping) -> CloudPaymentsProvider:
    """The same adapter pointed at the CloudPayments emulator at SANDBOX_URL."""
    sandbox_url = required_setting(config, "SANDBOX_URL").rstrip("/")
    public_id = config.get("CLOUDPAYMENTS_PUBLIC_ID") or SANDBOX_PUBLIC_ID
    return CloudPaymentsProvider(
        public_id=public_id,
        api_secret=config.get("CLOUDPAYMENTS_API_SECRET") or SANDBOX_API_SECRET,
        api_url=sandbox_url,
        widget_url=f"{sandbox_url}/widget.js",
        call_slots=_call_slots(config, f"sandbox:{public_id}"),
    )


def _call_slots(config: Mapping, terminal: str):
    # A lease outlives the longest call the client allows (connect + read timeouts).
    return call_slots_from_config(config, terminal, lease_seconds=sum(DEFAULT_TIMEOUT) + 5)


def _envelope(endpoint: str, response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        raise ProviderError(f"CloudPayments {endpoint} answered with something that is not JSON") from None
    if not isinstance(body, dict):
        raise ProviderError(f"CloudPayments {endpoint} answered without an envelope")
    fields = Fields(body)
    success = fields.get("Success")
    if not isinstance(success, bool):
        raise ProviderError(f"CloudPayments {endpoint} answered without Success")
    return {"success": success, "message": fields.text("Message"), "model": fields.get("Model")}


def _wire_id(transaction_id: str | int) -> int | str:
    # The API's TransactionId is an integer; our side keeps it as text.
    text = str(transaction_id)
    return int(text) if text.isdigit() else text
