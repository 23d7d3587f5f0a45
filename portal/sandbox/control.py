"""Test and cabinet endpoints: fault switches, counters, the delivery log, provider-side refunds."""

from __future__ import annotations

import ipaddress

from flask import Blueprint, jsonify, request

from . import fields, payments, wire
from .api import authorised, unauthorised_reply
from .runtime import current
from .settings import ControlError

bp = Blueprint("control", __name__)
# Open to anyone: the index of URLs, and the cabinet refund, which takes the terminal's Basic auth.
OPEN_ENDPOINTS = {"control.index", "control.cabinet_refund"}


@bp.before_request
def loopback_only():
    """The delivery log and transactions show card tokens and emails, and the controls take writes
    (where notifications go) with no login: they answer only this machine's clients unless the
    sandbox was started with SANDBOX_CONTROL_FROM_ANYWHERE=1."""
    if request.endpoint in OPEN_ENDPOINTS or current().settings.control_from_anywhere:
        return None
    if not _is_loopback(request.remote_addr):
        return jsonify({"error": "the sandbox's controls answer loopback clients only"}), 403
    return None


def _is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False  # a unix socket or a proxy's garbage: not known to be this machine


@bp.get("/")
def index():
    base = request.url_root
    return jsonify({
        "name": "CloudPayments sandbox",
        "public_id": current().settings.public_id,
        "api_base": base,
        "widget": base + "widget.js",
        "control": base + "control",
        "stats": base + "stats",
        "notifications": base + "notifications",
        "transactions": base + "transactions",
    })


@bp.route("/control", methods=["GET", "POST"])
def control():
    sandbox = current()
    if request.method == "POST":
        changes = request.get_json(silent=True)
        if not isinstance(changes, dict):
            return jsonify({"error": "send a JSON object of settings"}), 400
        try:
            sandbox.settings.update(changes)
        except ControlError as exc:
            return jsonify({"error": str(exc)}), 400
    return jsonify(sandbox.settings.snapshot())


@bp.post("/control/reset")
def control_reset():
    sandbox = current()
    sandbox.reset()
    return jsonify(sandbox.settings.snapshot())


@bp.get("/stats")
def stats():
    return jsonify(current().stats.snapshot())


@bp.post("/stats/reset")
def stats_reset():
    sandbox = current()
    sandbox.stats.reset()
    return jsonify(sandbox.stats.snapshot())


@bp.get("/notifications")
def notifications():
    kind = request.args.get("type")
    transaction_id = request.args.get("transaction_id", type=int)
    return jsonify(current().notifier.entries(kind.lower() if kind else None, transaction_id))


@bp.post("/notifications/<int:delivery_id>/redeliver")
def redeliver(delivery_id: int):
    entry = current().notifier.redeliver(delivery_id)
    if entry is None:
        return jsonify({"error": "no such notification"}), 404
    return jsonify(entry)


@bp.post("/notifications/recurrent")
def send_recurrent():
    """Emit a Recurrent notification (the sandbox keeps no provider-side subscriptions itself).

    The JSON body's keys override the defaults field by field; the first attempt happens now.
    """
    overrides = request.get_json(silent=True) or {}
    if not isinstance(overrides, dict):
        return jsonify({"error": "send a JSON object of fields"}), 400
    sandbox = current()
    delivery = sandbox.notifier.send("recurrent", fields.recurrent_fields(overrides, wire.utcnow()), None,
                                     wait_first=True)
    if delivery is None:
        return jsonify({"error": "Recurrent notifications are switched off"}), 409
    return jsonify(delivery.to_json())


@bp.get("/transactions")
def transactions():
    return jsonify([t.to_model() for t in current().store.all_transactions()])


@bp.post("/payments/<int:transaction_id>/refund")
def cabinet_refund(transaction_id: int):
    """A refund made in the merchant cabinet: same rules and Refund notification as the API.

    Basic auth like the API, standing in for the cabinet login. Without Amount the whole
    remaining amount is refunded. The notification's first attempt happens before the answer.
    """
    sandbox = current()
    if not authorised(sandbox):
        return unauthorised_reply()
    try:
        params = wire.read_params(request)
        refund_txn = payments.refund(sandbox, transaction_id, params.get("Amount"), params.get("JsonData"),
                                     wait_for_notification=True, full_if_missing=True)
    except wire.BadRequest as exc:
        return jsonify(wire.envelope(False, str(exc))), 400
    except payments.PaymentError as exc:
        status = 404 if str(exc) == payments.NOT_FOUND else 200
        return jsonify(wire.envelope(False, str(exc))), status
    return jsonify(wire.envelope(True, None, refund_txn.to_model()))
