"""YooKassa sandbox configuration: start-up values (config dict, then env, then defaults) and live switches."""

from __future__ import annotations

import os

from ..settings import Switches, common_switch, http_url, one_of, positive_int
from .cards import REASONS

# Start-up keys; each is read from the config dict, else from the env var of the same name.
STARTUP_DEFAULTS = {
    "YOOKASSA_SHOP_ID": "100500",
    "YOOKASSA_SECRET_KEY": "test_sandbox-secret",  # dev-only default; real secrets come from env
    "SANDBOX_MERCHANT_URL": "http://127.0.0.1:8000",  # notifications go to <this>/webhooks/yookassa
    "YOOKASSA_SANDBOX_WEBHOOK_URL": "",  # a full URL overriding the one above
    "YOOKASSA_SANDBOX_NOTIFY_FROM": "",  # local address notifications are sent from ("" = the OS picks)
    "YOOKASSA_SANDBOX_STATE_FILE": "",  # keep the store in this file across restarts ("" = memory only)
    "SANDBOX_NOTIFY_SCHEDULE": "1,2,5,10,30,60",  # the provider's redelivery for 24 h, compressed to seconds
    "SANDBOX_NOTIFY_TIMEOUT": "10",
    "SANDBOX_NOTIFY_MAX_ATTEMPTS": "50",
    "SANDBOX_LATENCY_MS": "0",
    "SANDBOX_CONTROL_FROM_ANYWHERE": "0",
}

EVENTS = ("payment.waiting_for_capture", "payment.succeeded", "payment.canceled", "refund.succeeded")
NOTIFICATION_MODES = ("normal", "drop", "duplicate", "delay", "out_of_order")
# The API's operations, as fault switches name them.
OPERATIONS = ("payments.create", "payments.get", "payments.list", "payments.capture", "payments.cancel",
              "refunds.create", "refunds.get", "refunds.list", "receipts.create", "receipts.get",
              "receipts.list", "me")
FAULTS = ("500_before", "500_after", "429", "202", "drop", "latency", "non_json")


def startup_value(config: dict, key: str) -> str:
    if key in config and config[key] is not None:
        return str(config[key])
    return os.environ.get(key, STARTUP_DEFAULTS[key])


class Settings(Switches):
    """Credentials and addresses fixed at start, switches that POST B/_control changes at run time."""

    def __init__(self, config: dict):
        self.notify_from = startup_value(config, "YOOKASSA_SANDBOX_NOTIFY_FROM") or None
        self.state_file = startup_value(config, "YOOKASSA_SANDBOX_STATE_FILE") or None
        self.control_from_anywhere = startup_value(config, "SANDBOX_CONTROL_FROM_ANYWHERE") == "1"
        merchant = startup_value(config, "SANDBOX_MERCHANT_URL").rstrip("/")
        super().__init__({
            "shop_id": startup_value(config, "YOOKASSA_SHOP_ID"),
            "secret_key": startup_value(config, "YOOKASSA_SECRET_KEY"),
            "latency_ms": int(startup_value(config, "SANDBOX_LATENCY_MS")),
            "webhook_url": startup_value(config, "YOOKASSA_SANDBOX_WEBHOOK_URL") or f"{merchant}/webhooks/yookassa",
            "notifications": "normal",
            "delay_ms": 0,
            "notify_schedule": _schedule(startup_value(config, "SANDBOX_NOTIFY_SCHEDULE")),
            "notify_timeout": float(startup_value(config, "SANDBOX_NOTIFY_TIMEOUT")),
            "notify_max_attempts": int(startup_value(config, "SANDBOX_NOTIFY_MAX_ATTEMPTS")),
            "receipt_delay_ms": 0,
            "fail_receipt_next": 0,
            "pending_charge_next": 0,
            "pending_charge_ms": 200,
            # Queued declines, first used first: {"reason", "payments": "charges" | "widget" | "any"}.
            "decline_next": [],
        })

    @property
    def shop_id(self) -> str:
        return self["shop_id"]

    @property
    def secret_key(self) -> str:
        return self["secret_key"]

    def snapshot(self) -> dict:
        values = self.values()
        del values["secret_key"]  # settable, never shown
        return values

    def url_for(self, kind: str) -> str | None:
        """Every event goes to the one webhook URL; "" switches notifications off."""
        return self["webhook_url"] or None

    def take_decline(self, payments: str) -> str | None:
        """The first reason queued for this kind of payment ("charges" or "widget"), if any."""
        with self._lock:
            queue = self._values["decline_next"]
            for index, entry in enumerate(queue):
                if entry["payments"] in {payments, "any"}:
                    return queue.pop(index)["reason"]
            return None

    def queue_declines(self, reason: str, count: int, payments: str = "charges") -> None:
        entry = _decline({"reason": reason, "payments": payments})
        with self._lock:
            self._values["decline_next"].extend(dict(entry) for _ in range(count))

    def _validated(self, key: str, value, staged: dict):
        if key in {"shop_id", "secret_key"}:
            if not isinstance(value, str) or not value:
                raise ValueError
            return value
        if key == "webhook_url":
            return "" if value == "" else http_url(value)
        if key == "notifications":
            return one_of(value, NOTIFICATION_MODES)
        if key == "notify_max_attempts":
            return positive_int(value)
        if key == "decline_next":
            if not isinstance(value, list):
                raise ValueError
            return [_decline(entry if isinstance(entry, dict) else {"reason": entry}) for entry in value]
        return common_switch(key, value)


DECLINE_SCOPES = ("charges", "widget", "any")


def _decline(entry: dict) -> dict:
    """One queued decline: a cancellation reason, for saved-method charges (default), widget payments or any."""
    payments = entry.get("payments", "charges")
    if set(entry) - {"reason", "payments"} or payments not in DECLINE_SCOPES:
        raise ValueError
    return {"reason": one_of(entry.get("reason"), REASONS), "payments": payments}


def _schedule(value: str) -> list[float]:
    return common_switch("notify_schedule", value)
