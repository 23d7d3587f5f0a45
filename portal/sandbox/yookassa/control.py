"""The sandbox's own surface under B/_control (not YooKassa's): switches, faults, clock, deliveries, inspection."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from markupsafe import escape

from ..control import _is_loopback
from ..settings import ControlError
from . import payments, wire
from .cards import REASONS
from .runtime import current
from .settings import DECLINE_SCOPES

bp = Blueprint("yookassa_control", __name__)


@bp.before_request
def loopback_only():
    """Deliveries and payments show card data and metadata, and the switches take writes with no login:
    they answer only this machine's clients unless SANDBOX_CONTROL_FROM_ANYWHERE=1."""
    if request.endpoint == "yookassa_control.index" or current().settings.control_from_anywhere:
        return None
    if request.blueprint == "yookassa_control" and not _is_loopback(request.remote_addr):
        return jsonify({"error": "the sandbox's controls answer loopback clients only"}), 403
    return None


def _json_object():
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def _bad(message: str):
    return jsonify({"error": message}), 400


@bp.get("/")
def index():
    base = request.url_root
    return jsonify({
        "name": "YooKassa sandbox",
        "shop_id": current().settings.shop_id,
        "api_url": base + "v3",
        "widget": base + "widget.js",
        "widget_pay": base + "widget/pay",
        "control": base + "_control",
        "payments": base + "_control/payments",
        "refunds": base + "_control/refunds",
        "receipts": base + "_control/receipts",
        "notifications": base + "_control/notifications",
        "stats": base + "_control/stats",
        "inspect": base + "_control/inspect",
    })


@bp.route("/_control", methods=["GET", "POST"])
def control():
    sandbox = current()
    if request.method == "POST":
        changes = _json_object()
        if changes is None:
            return _bad("send a JSON object of settings")
        try:
            sandbox.settings.update(changes)
        except ControlError as exc:
            return _bad(str(exc))
    return jsonify({**sandbox.settings.snapshot(), "faults": sandbox.faults.snapshot(),
                    "clock": sandbox.store.now().isoformat()})


@bp.post("/_control/reset")
def reset():
    sandbox = current()
    sandbox.reset()
    return jsonify(sandbox.settings.snapshot())


@bp.route("/_control/faults", methods=["GET", "POST", "DELETE"])
def faults():
    """POST `{"operation": "payments.create" | "*", "fault": "500_after", "count": 1 | null, "latency_ms"}`."""
    sandbox = current()
    if request.method == "DELETE":
        sandbox.faults.clear()
    elif request.method == "POST":
        body = _json_object()
        if body is None:
            return _bad("send a JSON object: operation, fault, count, latency_ms")
        try:
            sandbox.faults.add(body.get("operation", "*"), body.get("fault"), body.get("count", 1),
                               body.get("latency_ms", 0))
        except ValueError as exc:
            return _bad(str(exc))
    return jsonify(sandbox.faults.snapshot())


@bp.post("/_control/decline_next")
def decline_next():
    """`{"reason": "insufficient_funds", "count": 1, "payments": "charges"|"widget"|"any"}`: the next
    saved-method charges (default), widget payments or either are canceled with that reason."""
    body = _json_object() or {}
    reason, count, scope = body.get("reason"), body.get("count", 1), body.get("payments", "charges")
    if reason not in REASONS:
        return _bad(f"reason must be one of {', '.join(REASONS)}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        return _bad("count must be a positive integer")
    if scope not in DECLINE_SCOPES:
        return _bad(f"payments must be one of {', '.join(DECLINE_SCOPES)}")
    sandbox = current()
    sandbox.settings.queue_declines(reason, count, scope)
    return jsonify({"decline_next": sandbox.settings["decline_next"]})


@bp.post("/_control/payment_methods/<method_id>/revoke")
def revoke(method_id: str):
    """The customer withdrew the autopayment permission: later charges cancel with permission_revoked."""
    sandbox = current()
    with sandbox.store.lock:
        method = sandbox.store.methods.get(method_id)
        if method is None:
            return jsonify({"error": "no such payment method"}), 404
        method.revoked = True
        sandbox.store.save()
    return jsonify(method.to_json())


@bp.post("/_control/payments/<payment_id>/refund")
def cabinet_refund(payment_id: str):
    """A refund made in the merchant cabinet, not through the API: the same rules and refund.succeeded.

    `{"amount": {"value", "currency"}}` optional: by default all that is left."""
    sandbox = current()
    payment = sandbox.store.payment(payment_id)
    if payment is None:
        return jsonify({"error": "no such payment"}), 404
    body = _json_object() or {}
    # Nothing left (or not refundable): ask for a kopeck, so the refusal says why.
    amount = body.get("amount") or wire.amount_json(max(payment.refundable_left, 1), payment.currency)
    try:
        return jsonify(payments.create_refund(sandbox, {"payment_id": payment_id, "amount": amount}))
    except wire.ApiError as exc:
        return jsonify(exc.body()), exc.status


@bp.post("/_control/payments/<payment_id>/<action>")
def cabinet_action(payment_id: str, action: str):
    """Capture or cancel a waiting payment in the merchant cabinet (payment.succeeded / payment.canceled)."""
    sandbox = current()
    try:
        if action == "capture":
            return jsonify(payments.capture(sandbox, payment_id, {}))
        if action == "cancel":
            return jsonify(payments.cancel(sandbox, payment_id))
    except wire.ApiError as exc:
        return jsonify(exc.body()), exc.status
    return jsonify({"error": "action must be refund, capture or cancel"}), 404


@bp.post("/_control/clock")
def clock():
    """`{"advance_seconds": N}`: time passes; due pending payments, holds and keys expire now."""
    body = _json_object() or {}
    seconds = body.get("advance_seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        return _bad("advance_seconds must be a non-negative number")
    sandbox = current()
    sandbox.store.advance(seconds)
    payments.expire_due(sandbox)
    return jsonify({"clock": sandbox.store.now().isoformat()})


@bp.get("/_control/notifications")
def notifications():
    event = request.args.get("event")
    object_id = request.args.get("object_id")
    return jsonify([_delivery(entry) for entry in current().notifier.entries(event, object_id)])


def _delivery(entry: dict | None) -> dict | None:
    """A delivery log entry in this provider's words: the event and the object it is about."""
    if entry is None:
        return None
    entry = dict(entry)
    entry["event"] = entry.pop("type")
    entry["object_id"] = entry.pop("transaction_id")
    return entry


@bp.post("/_control/notifications/<int:delivery_id>/redeliver")
def redeliver(delivery_id: int):
    entry = current().notifier.redeliver(delivery_id)
    if entry is None:
        return jsonify({"error": "no such notification"}), 404
    return jsonify(_delivery(entry))


@bp.post("/_control/notifications/redeliver")
def redeliver_all():
    notifier = current().notifier
    return jsonify([_delivery(notifier.redeliver(entry["id"])) for entry in notifier.entries()])


@bp.get("/_control/payments")
def all_payments():
    sandbox = current()
    with sandbox.store.lock:
        rows = sorted(sandbox.store.payments.values(), key=lambda p: p.created_at)
        return jsonify([p.to_json(sandbox.settings.shop_id) for p in rows])


@bp.get("/_control/refunds")
def all_refunds():
    sandbox = current()
    with sandbox.store.lock:
        return jsonify([r.to_json() for r in sorted(sandbox.store.refunds.values(), key=lambda r: r.created_at)])


@bp.get("/_control/receipts")
def all_receipts():
    sandbox = current()
    with sandbox.store.lock:
        return jsonify([r.to_json() for r in sorted(sandbox.store.receipts.values(), key=lambda r: r.created_at)])


@bp.get("/_control/inspect")
def inspect():
    """The same records for a person: payments, refunds and notification deliveries as HTML tables."""
    sandbox = current()
    with sandbox.store.lock:
        payment_rows = [(p.id, p.status, wire.money_text(p.amount) + " " + p.currency,
                         wire.money_text(p.refunded), (p.metadata or {}).get("invoice_id", ""),
                         p.cancellation[1] if p.cancellation else "", wire.iso_time(p.created_at))
                        for p in sorted(sandbox.store.payments.values(), key=lambda p: p.created_at, reverse=True)]
        refund_rows = [(r.id, r.payment_id, r.status, wire.money_text(r.amount) + " " + r.currency,
                        wire.iso_time(r.created_at))
                       for r in sorted(sandbox.store.refunds.values(), key=lambda r: r.created_at, reverse=True)]
    delivery_rows = [(d["id"], d["event"], d["object_id"], d["attempts"], d["last_status"], d["delivered"], d["url"])
                     for d in map(_delivery, reversed(sandbox.notifier.entries()))]
    page = "".join([
        "<!doctype html><html><head><meta charset='utf-8'><title>YooKassa sandbox</title></head><body>",
        f"<h1>YooKassa sandbox · shop {escape(sandbox.settings.shop_id)}</h1>",
        _table("Payments", ("id", "status", "amount", "refunded", "invoice", "cancellation", "created"), payment_rows),
        _table("Refunds", ("id", "payment", "status", "amount", "created"), refund_rows),
        _table("Notifications", ("#", "event", "object", "attempts", "last status", "delivered", "url"),
               delivery_rows),
        "</body></html>"])
    return page, 200, {"Content-Type": "text/html; charset=utf-8"}


def _table(title: str, headings, rows) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headings)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<h2>{escape(title)}</h2><table border='1'><tr>{head}</tr>{body}</table>"


@bp.get("/_control/stats")
def stats():
    return jsonify(current().stats.snapshot())
