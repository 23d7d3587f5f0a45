"""API v3 under B/v3: Basic auth, fault switches, Idempotence-Key on every POST, and the endpoints."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import time
from functools import wraps

from flask import Blueprint, Response, jsonify, request

from ..api import basic_auth_matches
from . import payments, wire
from .runtime import Sandbox, current

bp = Blueprint("yookassa_api", __name__, url_prefix="/v3")

IDEMPOTENCE_KEY_MAX = 64
REPLAY_WAIT_SECONDS = 120
UNLIMITED = 10**9  # YooKassa publishes no concurrency limit: 429 comes from the fault switch only


def reply(status: int, body: dict, headers: dict | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def error_reply(error: wire.ApiError) -> Response:
    return reply(error.status, error.body())


def authorised(sandbox: Sandbox) -> bool:
    return basic_auth_matches(sandbox.settings.shop_id, sandbox.settings.secret_key)


def _unauthorised() -> Response:
    return reply(401, wire.error_body(
        "invalid_credentials", "Error in shopId or secret key. Check their validity.", "Authorization"),
        {"WWW-Authenticate": 'Basic realm="YooKassa sandbox"'})


def _json_body() -> dict:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    if "json" not in (request.mimetype or ""):
        raise wire.ApiError(415, "invalid_request", "Content-Type must be application/json", "Content-Type")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise wire.invalid("The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise wire.invalid("The request body must be a JSON object")
    return body


def _compute(handler, kwargs, delay: float = 0.0) -> tuple[int, dict]:
    if delay:
        time.sleep(delay)  # the latency fault: the provider is slow at the work itself
    try:
        if request.method == "POST":
            kwargs = {**kwargs, "body": _json_body()}
        return 200, handler(current(), **kwargs)
    except wire.ApiError as exc:
        return exc.status, exc.body()


def _idempotent(sandbox: Sandbox, handler, kwargs, delay: float) -> tuple[int, dict]:
    """Same key and body: the first answer again, nothing done twice. Same key, other body: 400."""
    key = request.headers.get("Idempotence-Key", "").strip()
    if not key:
        raise wire.invalid("Idempotence-Key header is required", "Idempotence-Key")
    if len(key) > IDEMPOTENCE_KEY_MAX:
        raise wire.invalid(f"Idempotence-Key is longer than {IDEMPOTENCE_KEY_MAX} characters", "Idempotence-Key")
    slot, owner = sandbox.store.claim_answer(key, _fingerprint())
    if not owner:
        if slot.fingerprint != _fingerprint():
            raise wire.invalid("Idempotence key duplicated", "Idempotence-Key")
        slot.done.wait(REPLAY_WAIT_SECONDS)
        if slot.body is not None:
            sandbox.stats.count("replays")
            return slot.status, slot.body
        return _compute(handler, kwargs, delay)
    try:
        status, body = _compute(handler, kwargs, delay)
    except BaseException:
        sandbox.store.drop_answer(key, slot)
        raise
    sandbox.store.fill_answer(slot, status, body)
    return status, body


def _fingerprint() -> str:
    """The request a key was first used for: the path and the body, keys in any order."""
    raw = request.get_data(cache=True)
    try:
        body = json.dumps(json.loads(raw), sort_keys=True, ensure_ascii=False) if raw.strip() else "{}"
    except ValueError:
        body = raw.decode("utf-8", "replace")
    return hashlib.sha256(f"{request.path}\n{body}".encode()).hexdigest()


def _drop_connection() -> Response:
    """Close the socket without an answer (werkzeug's and gunicorn's servers expose it)."""
    sock = request.environ.get("werkzeug.socket") or request.environ.get("gunicorn.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    return Response(b"", status=500, mimetype="text/plain")


def _serve(operation: str, handler, kwargs) -> Response:
    sandbox = current()
    stats = sandbox.stats
    stats.enter(operation, UNLIMITED)
    try:
        if sandbox.settings["latency_ms"]:
            time.sleep(sandbox.settings["latency_ms"] / 1000.0)
        if not authorised(sandbox):
            stats.answer(401)
            return _unauthorised()
        faults = sandbox.faults.take(operation)
        delay = sum(fault[1] for fault in faults if isinstance(fault, tuple)) / 1000.0
        early = _early_fault(sandbox, faults)
        if early is not None:
            return early
        payments.expire_due(sandbox)
        try:
            if request.method == "POST":
                status, body = _idempotent(sandbox, handler, kwargs, delay)
            else:
                status, body = _compute(handler, kwargs, delay)
        except wire.ApiError as exc:
            status, body = exc.status, exc.body()
        if "500_after" in faults:
            stats.count("injected_500")
            status, body = 500, wire.error_body("internal_server_error", "Internal server error (sandbox fault)")
        if "drop" in faults:
            stats.count("injected_timeouts")
            return _drop_connection()
        stats.answer(status)
        return reply(status, body)
    finally:
        stats.leave()


def _early_fault(sandbox: Sandbox, faults: list) -> Response | None:
    """Faults answered before any work is done (so a repeat with the same key does it for real)."""
    stats = sandbox.stats
    if "429" in faults:
        stats.count("rejected_429")
        stats.answer(429)
        return reply(429, wire.error_body("too_many_requests", "Too many requests (sandbox fault)"),
                     {"Retry-After": "1"})
    if "500_before" in faults:
        stats.count("injected_500")
        stats.answer(500)
        return reply(500, wire.error_body("internal_server_error", "Internal server error (sandbox fault)"))
    if "202" in faults:
        stats.answer(202)
        return reply(202, {"type": "processing", "description": "Request accepted for processing",
                           "retry_after": 1800})
    if "non_json" in faults:
        stats.answer(502)
        return Response("<html><body><h1>502 Bad Gateway</h1></body></html>", status=502, mimetype="text/html")
    return None


def operation(name: str, rule: str, method: str):
    """Register an API call at B/v3<rule>, behind the whole request pipeline."""
    def decorate(handler):
        @wraps(handler)
        def view(**kwargs):
            return _serve(name, handler, kwargs)

        bp.add_url_rule(rule, endpoint=name.replace(".", "_"), view_func=view, methods=[method])
        return handler
    return decorate


# --- lists: filters and cursors ---

def _listed(objects: list, to_json, time_fields: tuple[str, ...], exact: dict[str, object]) -> dict:
    """Newest first; `<field>.gte/.gt/.lte/.lt` on time fields, exact filters, `limit` 1–100, `cursor`."""
    args = request.args
    try:
        limit = int(args.get("limit", 10))
    except ValueError:
        raise wire.invalid("limit must be a number from 1 to 100", "limit") from None
    if not 1 <= limit <= 100:
        raise wire.invalid("limit must be a number from 1 to 100", "limit")
    rows = sorted(objects, key=lambda o: (o.created_at, o.id), reverse=True)
    for name, getter in exact.items():
        if args.get(name):
            rows = [o for o in rows if getter(o) == args[name]]
    for field in time_fields:
        for op, test in (("gte", lambda a, b: a >= b), ("gt", lambda a, b: a > b),
                         ("lte", lambda a, b: a <= b), ("lt", lambda a, b: a < b)):
            raw = args.get(f"{field}.{op}")
            if raw is None:
                continue
            try:
                bound = wire.parse_time(raw)
            except ValueError:
                raise wire.invalid(f"{field}.{op} must be an ISO 8601 time", f"{field}.{op}") from None
            rows = [o for o in rows if getattr(o, field) is not None and test(getattr(o, field), bound)]
    cursor = args.get("cursor")
    if cursor:
        try:
            after = base64.urlsafe_b64decode(cursor.encode()).decode()
        except (ValueError, UnicodeDecodeError):
            raise wire.invalid("Invalid cursor", "cursor") from None
        ids = [o.id for o in rows]
        if after not in ids:
            raise wire.invalid("Invalid cursor", "cursor")
        rows = rows[ids.index(after) + 1:]
    page = rows[:limit]
    body = {"type": "list", "items": [to_json(o) for o in page]}
    if len(rows) > limit:
        body["next_cursor"] = base64.urlsafe_b64encode(page[-1].id.encode()).decode()
    return body


def _all(sandbox: Sandbox, kind: str) -> list:
    with sandbox.store.lock:
        return list(getattr(sandbox.store, kind).values())


# --- endpoints ---

@operation("payments.create", "/payments", "POST")
def create_payment(sandbox, body):
    return payments.create_payment(sandbox, body)


@operation("payments.get", "/payments/<payment_id>", "GET")
def get_payment(sandbox, payment_id):
    payment = sandbox.store.payment(payment_id)
    if payment is None:
        raise wire.not_found("Payment not found")
    return payment.to_json(sandbox.settings.shop_id)


@operation("payments.list", "/payments", "GET")
def list_payments(sandbox):
    return _listed(_all(sandbox, "payments"), lambda p: p.to_json(sandbox.settings.shop_id),
                   ("created_at", "captured_at"),
                   {"status": lambda p: p.status,
                    "payment_method": lambda p: "bank_card" if p.method else None})


@operation("payments.capture", "/payments/<payment_id>/capture", "POST")
def capture_payment(sandbox, payment_id, body):
    return payments.capture(sandbox, payment_id, body)


@operation("payments.cancel", "/payments/<payment_id>/cancel", "POST")
def cancel_payment(sandbox, payment_id, body):
    return payments.cancel(sandbox, payment_id)


@operation("refunds.create", "/refunds", "POST")
def create_refund(sandbox, body):
    return payments.create_refund(sandbox, body)


@operation("refunds.get", "/refunds/<refund_id>", "GET")
def get_refund(sandbox, refund_id):
    refund = sandbox.store.refund(refund_id)
    if refund is None:
        raise wire.not_found("Refund not found")
    return refund.to_json()


@operation("refunds.list", "/refunds", "GET")
def list_refunds(sandbox):
    return _listed(_all(sandbox, "refunds"), lambda r: r.to_json(), ("created_at",),
                   {"payment_id": lambda r: r.payment_id, "status": lambda r: r.status})


@operation("receipts.create", "/receipts", "POST")
def create_receipt(sandbox, body):
    return payments.create_receipt(sandbox, body)


@operation("receipts.get", "/receipts/<receipt_id>", "GET")
def get_receipt(sandbox, receipt_id):
    with sandbox.store.lock:
        receipt = sandbox.store.receipts.get(receipt_id)
    if receipt is None:
        raise wire.not_found("Receipt not found")
    return receipt.to_json()


@operation("receipts.list", "/receipts", "GET")
def list_receipts(sandbox):
    return _listed(_all(sandbox, "receipts"), lambda r: r.to_json(), ("created_at",),
                   {"payment_id": lambda r: r.payment_id, "refund_id": lambda r: r.refund_id,
                    "status": lambda r: r.status})


@operation("me", "/me", "GET")
def me(sandbox):
    return {"account_id": sandbox.settings.shop_id, "test": True, "fiscalization_enabled": True,
            "payment_methods": ["bank_card"], "status": "enabled"}
