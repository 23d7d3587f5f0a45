"""The provider's HTTP API: Basic auth, concurrency limit, faults, X-Request-ID, and the endpoints."""

from __future__ import annotations

import hmac
import time
import uuid
from datetime import datetime, timedelta, timezone
from functools import wraps

from flask import Blueprint, jsonify, request

from . import payments, wire
from .runtime import Sandbox, current

bp = Blueprint("api", __name__)

# payments/list TimeZone codes the provider accepts, as fixed UTC offsets in hours.
TIMEZONES = {
    "HST": -10, "AKST": -9, "PST": -8, "MST": -7, "CST": -6, "EST": -5, "AST": -4, "BRT": -3,
    "UTC": 0, "GMT": 0, "CET": 1, "EET": 2, "MSK": 3, "AZT": 4, "AMT": 4, "SAMT": 4, "GET": 4,
    "TJT": 5, "YEKT": 5, "ALMT": 6, "NOVT": 7, "KRAT": 7, "HKT": 8, "IRKT": 8, "SGT": 8, "ULAT": 8,
    "YAKT": 9, "VLAT": 10, "SAKT": 11, "ANAT": 12,
}
TOKENS_PAGE_SIZE = 100
REPLAY_WAIT_SECONDS = 120


def _reply(status: int, body: dict, headers: dict | None = None):
    response = jsonify(body)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def authorised(sandbox: Sandbox) -> bool:
    return basic_auth_matches(sandbox.settings.public_id, sandbox.settings.api_secret)


def basic_auth_matches(user: str, password: str) -> bool:
    """The request's HTTP Basic credentials are these, compared in constant time (provider-neutral)."""
    auth = request.authorization
    if auth is None or auth.type != "basic":
        return False
    user_ok = hmac.compare_digest((auth.username or "").encode(), user.encode())
    secret_ok = hmac.compare_digest((auth.password or "").encode(), password.encode())
    return user_ok and secret_ok


def unauthorised_reply():
    return _reply(401, wire.envelope(False, "Unauthorized"),
                  {"WWW-Authenticate": 'Basic realm="CloudPayments sandbox"'})


def _compute(handler) -> tuple[int, dict]:
    try:
        params = wire.read_params(request)
    except wire.BadRequest as exc:
        return 400, wire.envelope(False, str(exc))
    try:
        return 200, handler(current(), params)
    except payments.PaymentError as exc:
        return 200, wire.envelope(False, str(exc))


def _idempotent(sandbox: Sandbox, handler) -> tuple[int, dict]:
    """Same X-Request-ID within the hour: the first answer again and no second effect.

    A repeat that arrives while the first is still running waits for it instead of racing it.
    """
    request_id = request.headers.get("X-Request-ID", "").strip()
    if not request_id:
        return _compute(handler)
    slot, owner = sandbox.store.claim_answer(request_id)
    if not owner:
        slot.done.wait(REPLAY_WAIT_SECONDS)
        if slot.body is not None:
            sandbox.stats.count("replays")
            return slot.status, slot.body
        return _compute(handler)
    try:
        status, body = _compute(handler)
    except BaseException:
        sandbox.store.drop_answer(request_id, slot)
        raise
    sandbox.store.fill_answer(slot, status, body)
    return status, body


def _serve(name: str, handler):
    sandbox = current()
    settings = sandbox.settings
    if not sandbox.stats.enter(name, settings["concurrency_limit"]):
        sandbox.stats.answer(429)
        return _reply(429, wire.envelope(False, "Too many requests"), {"Retry-After": "1"})
    try:
        latency = settings["latency_ms"]
        if latency:
            time.sleep(latency / 1000.0)
        if not authorised(sandbox):
            sandbox.stats.answer(401)
            return unauthorised_reply()
        if settings.take_fault("fail_next"):
            sandbox.stats.count("injected_500")
            sandbox.stats.answer(500)
            return _reply(500, wire.envelope(False, "Internal server error (sandbox fault)"))
        hang = settings.take_fault("timeout_next")
        if hang:
            sandbox.stats.count("injected_timeouts")
            if not settings["timeout_effect"]:
                # The request is lost before the provider acts on it.
                time.sleep(settings["timeout_seconds"])
                return _reply(504, wire.envelope(False, "Gateway timeout (sandbox fault)"))
        status, body = _idempotent(sandbox, handler)
        if hang:
            # The provider did the work (and stored the answer for X-Request-ID) but the
            # caller never hears back in time: the case idempotent retries exist for.
            time.sleep(settings["timeout_seconds"])
        sandbox.stats.answer(status)
        return _reply(status, body)
    finally:
        sandbox.stats.leave()


def endpoint(rule: str):
    """Register an API method at B/<rule>: POST only, behind the whole request pipeline."""
    def decorate(handler):
        @wraps(handler)
        def view():
            return _serve(rule, handler)

        bp.add_url_rule(f"/{rule}", endpoint=rule.replace("/", "_"), view_func=view, methods=["POST"])
        return handler
    return decorate


def _required(params: wire.Params, key: str) -> str:
    value = params.text(key)
    if value is None:
        raise payments.PaymentError(f"{key} is required")
    return value


# --- endpoints ---

@endpoint("test")
def test(sandbox, params):
    # The real API answers with the id it gave this request (a GUID), not a greeting.
    return wire.envelope(True, str(uuid.uuid4()))


def _token_payment(sandbox, params, scheme: str) -> dict:
    initiator = params.text("TrInitiatorCode")
    if initiator is None:
        raise payments.PaymentError("TrInitiatorCode is required")
    if initiator not in {"0", "1"}:
        raise payments.PaymentError("TrInitiatorCode must be 0 or 1")
    account_id = _required(params, "AccountId")
    token = _required(params, "Token")
    req = payments.payment_request(
        params.get("Amount"), params.text("Currency"), account_id=account_id,
        invoice_id=params.text("InvoiceId"), email=params.text("Email"),
        description=params.text("Description"), json_data=params.get("JsonData"),
        name=params.text("Name"), ip_address=params.text("IpAddress"))
    txn = payments.charge_token(sandbox, req, token, scheme)
    return wire.envelope(txn.status != "Declined", None, txn.to_model())


@endpoint("payments/tokens/charge")
def tokens_charge(sandbox, params):
    return _token_payment(sandbox, params, "charge")


@endpoint("payments/tokens/auth")
def tokens_auth(sandbox, params):
    return _token_payment(sandbox, params, "auth")


@endpoint("payments/confirm")
def confirm(sandbox, params):
    payments.confirm(sandbox, _required(params, "TransactionId"), params.get("Amount"), params.get("JsonData"))
    return wire.envelope(True)


@endpoint("payments/void")
def void(sandbox, params):
    payments.void(sandbox, _required(params, "TransactionId"))
    return wire.envelope(True)


@endpoint("payments/refund")
def refund(sandbox, params):
    refund_txn = payments.refund(sandbox, _required(params, "TransactionId"), params.get("Amount"),
                                 params.get("JsonData"))
    return wire.envelope(True, None, {"TransactionId": refund_txn.id})


@endpoint("payments/get")
def get(sandbox, params):
    raw = _required(params, "TransactionId")
    txn = sandbox.store.get(int(raw)) if raw.isdigit() else None
    if txn is None:
        return wire.envelope(False, payments.NOT_FOUND)
    return wire.envelope(True, None, txn.to_model())


@endpoint("payments/find")
def find(sandbox, params):
    txn = sandbox.store.latest_for_invoice(_required(params, "InvoiceId"))
    if txn is None:
        return wire.envelope(False, payments.NOT_FOUND)
    return wire.envelope(True, None, txn.to_model())


@endpoint("payments/list")
def list_payments(sandbox, params):
    raw_date = _required(params, "Date")
    try:
        day = datetime.strptime(raw_date[:10], "%Y-%m-%d").date()
    except ValueError:
        raise payments.PaymentError("Date must be yyyy-MM-dd") from None
    zone_code = (params.text("TimeZone") or "UTC").upper()
    if zone_code not in TIMEZONES:
        raise payments.PaymentError(f"TimeZone {zone_code} is not supported")
    zone = timezone(timedelta(hours=TIMEZONES[zone_code]))
    rows = [t.to_model() for t in sandbox.store.all_transactions() if t.created.astimezone(zone).date() == day]
    return wire.envelope(True, None, rows)


@endpoint("payments/tokens/list")
def tokens_list(sandbox, params):
    saved = sandbox.store.all_saved_cards()
    page = params.text("PageNumber")
    if page is not None:
        if not page.isdigit() or int(page) < 1:
            raise payments.PaymentError("PageNumber must be a positive integer")
        start = (int(page) - 1) * TOKENS_PAGE_SIZE
        saved = saved[start:start + TOKENS_PAGE_SIZE]
    return wire.envelope(True, None, [s.to_model() for s in saved])
