"""The checkout widget: widget.js for the browser and POST widget/pay, the customer's card attempt."""

from __future__ import annotations

import json
from importlib import resources

from flask import Blueprint, Response, request

from ..widget import allow_cross_origin, script_response
from . import payments, wire
from .api import reply
from .cards import TEST_CARDS
from .runtime import current

bp = Blueprint("yookassa_widget", __name__)

# The widget asks a 3-D Secure code for these numbers before it submits the card.
_WIDGET_JS = resources.files(__package__).joinpath("widget.js").read_text(encoding="utf-8").replace(
    '"__SANDBOX_THREE_DS_CARDS__"', json.dumps([pan for pan, card in TEST_CARDS.items() if card.three_ds]))
bp.after_request(allow_cross_origin)


@bp.get("/widget.js")
def widget_js():
    return script_response(_WIDGET_JS)


@bp.route("/widget/pay", methods=["POST", "OPTIONS"])
def widget_pay():
    """`{"confirmation_token", "card": {number, expiry_month, expiry_year, csc}, "three_ds"}` → the payment."""
    if request.method == "OPTIONS":
        return Response(status=204)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return reply(400, wire.error_body("invalid_request", "Send a JSON object"))
    try:
        return reply(200, payments.pay_with_card(current(), body))
    except wire.ApiError as exc:
        return reply(exc.status, exc.body())


@bp.get("/widget/session")
def widget_session():
    """What the widget shows before the card form: the amount, the description, the token's state."""
    sandbox = current()
    token = request.args.get("confirmation_token", "")
    payment = sandbox.store.payment_by_token(token)
    if payment is None:
        return reply(404, wire.error_body("not_found", "Unknown confirmation_token", "confirmation_token"))
    payments.expire_due(sandbox)
    if payment.status == "pending" and not payment.attempted:
        state = "active"
    elif payment.cancellation and payment.cancellation[1] == "expired_on_confirmation":
        state = "expired"
    else:
        state = "used"
    return reply(200, {"state": state, "amount": wire.amount_json(payment.amount, payment.currency),
                       "description": payment.description,
                       "locale": payment.locale or payments.DEFAULT_LOCALE})
