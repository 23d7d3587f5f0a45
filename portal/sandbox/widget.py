"""The payment widget: widget.js for the browser and POST widget/pay, the card-entry payment."""

from __future__ import annotations

import json
from importlib import resources

from flask import Blueprint, Response, jsonify, request

from . import cards, payments, wire
from .runtime import current
from .store import Card

bp = Blueprint("widget", __name__)

_WIDGET_JS = resources.files(__package__).joinpath("widget.js").read_text(encoding="utf-8")
_BASE_PLACEHOLDER = '"__SANDBOX_BASE_URL__"'
# el() and field(), the same in every sandbox's script, indented into its closure when served.
_DOM_HELPERS = "\n".join(
    "  " + line if line else line
    for line in resources.files(__package__).joinpath("widget_dom.js").read_text(encoding="utf-8").splitlines())
_HELPERS_PLACEHOLDER = "  /* __SANDBOX_DOM_HELPERS__ */"


def script_response(source: str) -> Response:
    """A sandbox's widget script with its base URL filled in (provider-neutral).

    The script needs its own base URL to post to widget/pay; it prefers document.currentScript
    and falls back to the URL this request came in on (script_root included when mounted)."""
    source = source.replace(_HELPERS_PLACEHOLDER, _DOM_HELPERS)
    response = Response(source.replace(_BASE_PLACEHOLDER, json.dumps(request.url_root)),
                        mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/widget.js")
def widget_js():
    return script_response(_WIDGET_JS)


@bp.after_request
def allow_cross_origin(response):
    # The portal page may load the widget from another origin (the sandbox on its own port): the widget's
    # own calls (the card attempt, and YooKassa's session read before the card form) are open to it.
    if request.path.endswith(("/widget/pay", "/widget/session")):
        response.headers["Access-Control-Allow-Origin"] = request.headers.get("Origin", "*")
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Vary"] = "Origin"
    return response


def _refused(message: str, reason_code: int | None = None, status: int = 400):
    """A payment the widget refuses before any transaction exists (no notifications either)."""
    reason, holder_message = cards.reason_for(reason_code) if reason_code else (None, message)
    return jsonify({
        "Success": False, "Message": message, "TransactionId": None, "Status": None,
        "ReasonCode": reason_code, "Reason": reason, "CardHolderMessage": holder_message, "Token": None,
        "Model": None,
    }), status


def _scheme(params: wire.Params) -> str | None:
    kind = (params.text("type") or params.text("method") or "").lower()
    schema = (params.text("paymentSchema") or "").lower()
    if kind in {"charge", "auth"}:
        return kind
    if not kind and schema in {"", "single"}:
        return "charge"
    if not kind and schema == "dual":
        return "auth"
    return None


def _user_info(params: wire.Params, key: str) -> str | None:
    info = params.get("userInfo")
    if isinstance(info, dict):
        value = wire.Params(info).text(key)
        if value is not None:
            return value
    return None


@bp.route("/widget/pay", methods=["POST", "OPTIONS"])
def widget_pay():
    if request.method == "OPTIONS":
        return Response(status=204)
    sandbox = current()
    try:
        params = wire.read_params(request)
    except wire.BadRequest as exc:
        return _refused(str(exc))
    public_id = params.text("publicId") or params.text("publicTerminalId")
    if public_id != sandbox.settings.public_id:
        return _refused("Invalid publicId")
    scheme = _scheme(params)
    if scheme is None:
        return _refused("type must be 'charge' or 'auth'")
    pan = cards.normalise_pan(params.get("cardNumber"))
    if pan is None:
        return _refused("Invalid card number", cards.INVALID_CARD_NUMBER)
    expiry = cards.parse_expiry(params.get("expDate"))
    if expiry is None:
        return _refused("Invalid expiry date, expected MM/YY", cards.EXPIRED_CARD)
    cvv = str(params.get("cvv") or "").strip()
    if not (cvv.isdigit() and len(cvv) in (3, 4)):
        return _refused("Invalid CVV", cards.WRONG_CVV)
    try:
        req = payments.payment_request(
            params.get("amount"), params.text("currency"),
            account_id=params.text("accountId") or _user_info(params, "accountId"),
            invoice_id=params.text("invoiceId") or params.text("externalId"),
            email=params.text("email") or _user_info(params, "email"),
            description=params.text("description"),
            json_data=params.get("data") if params.get("data") is not None else params.get("metadata"),
            name=params.text("name") or params.text("cardholderName"),
            ip_address=request.headers.get("X-Forwarded-For", request.remote_addr or "").split(",")[0].strip()
            or None)
    except payments.PaymentError as exc:
        return _refused(str(exc))
    txn = payments.pay_with_card(sandbox, req, Card(pan, *expiry), scheme)
    reason, holder_message = cards.reason_for(txn.reason_code)
    approved = txn.status != "Declined"
    return jsonify({
        "Success": approved,
        "Message": None if approved else holder_message,
        "Type": scheme,
        "TransactionId": txn.id,
        "Status": txn.status,
        "ReasonCode": txn.reason_code,
        "Reason": reason,
        "CardHolderMessage": holder_message,
        "Token": txn.token if approved else None,
        "InvoiceId": txn.invoice_id,
        "AccountId": txn.account_id,
        "Amount": wire.json_amount(txn.amount),
        "Currency": txn.currency,
        "Model": txn.to_model(),
    })
