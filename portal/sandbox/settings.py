"""Sandbox configuration: start-up values (config dict, then env, then defaults) and live fault switches."""

from __future__ import annotations

import copy
import os
import threading

NOTIFICATION_TYPES = ("check", "pay", "fail", "confirm", "refund", "recurrent", "cancel", "receipt")
NOTIFICATION_MODES = ("normal", "drop", "duplicate", "delay")

# Start-up keys; each is read from the config dict, else from the env var of the same name.
STARTUP_DEFAULTS = {
    "CLOUDPAYMENTS_PUBLIC_ID": "pk_sandbox",
    "CLOUDPAYMENTS_API_SECRET": "sandbox-secret",  # dev-only default; real secrets come from env
    "SANDBOX_MERCHANT_URL": "http://127.0.0.1:8000",
    "SANDBOX_NOTIFY_SCHEDULE": "1,2,5,10,30",  # the provider's minutes, compressed to seconds
    "SANDBOX_NOTIFY_TIMEOUT": "10",  # the provider waits 30 s; compressed like the schedule
    "SANDBOX_NOTIFY_MAX_ATTEMPTS": "100",
    "SANDBOX_LATENCY_MS": "0",
    "SANDBOX_CONCURRENCY_LIMIT": "5",
    "SANDBOX_TIMEOUT_SECONDS": "35",  # how long a timeout_next call hangs
    # "1": the delivery log, transactions and test controls answer any client, not only loopback ones.
    "SANDBOX_CONTROL_FROM_ANYWHERE": "0",
}


def startup_value(config: dict, key: str) -> str:
    if key in config and config[key] is not None:
        return str(config[key])
    return os.environ.get(key, STARTUP_DEFAULTS[key])


def parse_schedule(value) -> list[float]:
    if isinstance(value, str):
        items = [part for part in value.replace(";", ",").split(",") if part.strip()]
    else:
        items = list(value)
    schedule = [float(item) for item in items]
    if not schedule or any(delay < 0 for delay in schedule):
        raise ValueError("notify_schedule needs one or more non-negative numbers of seconds")
    return schedule


class ControlError(ValueError):
    """A fault-switch change that makes no sense; nothing is applied."""


class Switches:
    """Live switches behind one lock: start-up defaults, validated updates applied together, resets.

    Provider-neutral: each sandbox subclasses it with its own defaults and `_validated`.
    """

    def __init__(self, defaults: dict):
        self._lock = threading.Lock()
        self._defaults = defaults
        self._values = copy.deepcopy(self._defaults)

    def reset(self) -> None:
        with self._lock:
            self._values = copy.deepcopy(self._defaults)

    def values(self) -> dict:
        with self._lock:
            return copy.deepcopy(self._values)

    def __getitem__(self, key: str):
        with self._lock:
            return copy.deepcopy(self._values[key])

    def update(self, changes: dict) -> None:
        """Validate every change first, then apply them together."""
        with self._lock:
            staged = copy.deepcopy(self._values)
            for key, value in changes.items():
                if key not in staged:
                    raise ControlError(f"unknown setting: {key}")
                try:
                    staged[key] = self._validated(key, value, staged)
                except (TypeError, ValueError):
                    raise ControlError(f"invalid value for {key}: {value!r}") from None
            self._values = staged

    def take_fault(self, key: str) -> bool:
        """Consume one of a countdown switch (fail_next, timeout_next, …) if any are left."""
        with self._lock:
            if self._values[key] > 0:
                self._values[key] -= 1
                return True
            return False

    def _validated(self, key: str, value, staged: dict):
        raise NotImplementedError


class Settings(Switches):
    """The credentials (fixed at start) and the switches POST /control changes at run time."""

    def __init__(self, config: dict):
        self.public_id = startup_value(config, "CLOUDPAYMENTS_PUBLIC_ID")
        self.api_secret = startup_value(config, "CLOUDPAYMENTS_API_SECRET")
        self.control_from_anywhere = startup_value(config, "SANDBOX_CONTROL_FROM_ANYWHERE") == "1"
        super().__init__({
            "latency_ms": int(startup_value(config, "SANDBOX_LATENCY_MS")),
            "concurrency_limit": int(startup_value(config, "SANDBOX_CONCURRENCY_LIMIT")),
            "notifications": "normal",
            "delay_ms": 0,
            "fail_next": 0,
            "timeout_next": 0,
            "timeout_seconds": float(startup_value(config, "SANDBOX_TIMEOUT_SECONDS")),
            "timeout_effect": True,
            "merchant_url": startup_value(config, "SANDBOX_MERCHANT_URL").rstrip("/"),
            "urls": {},
            "notify_schedule": parse_schedule(startup_value(config, "SANDBOX_NOTIFY_SCHEDULE")),
            "notify_timeout": float(startup_value(config, "SANDBOX_NOTIFY_TIMEOUT")),
            "notify_max_attempts": int(startup_value(config, "SANDBOX_NOTIFY_MAX_ATTEMPTS")),
            "check_on_token_charges": False,
            "fail_receipt_next": 0,  # CloudKassir refuses the next receipts (listed at /control/receipts)
        })

    def snapshot(self) -> dict:
        values = self.values()
        values["public_id"] = self.public_id
        values["effective_urls"] = {kind: self._url_from(values, kind) for kind in NOTIFICATION_TYPES}
        return values

    def _validated(self, key: str, value, staged: dict):
        return _validated(key, value, staged)

    def url_for(self, kind: str) -> str | None:
        """Where a notification type goes; None when that type is switched off."""
        with self._lock:
            return self._url_from(self._values, kind)

    @staticmethod
    def _url_from(values: dict, kind: str) -> str | None:
        if kind in values["urls"]:
            return values["urls"][kind] or None
        return f"{values['merchant_url']}/webhooks/cloudpayments/{kind}"


def _validated(key: str, value, staged: dict):
    if key in {"concurrency_limit", "notify_max_attempts"}:
        return positive_int(value)
    if key == "notifications":
        return one_of(value, NOTIFICATION_MODES)
    if key == "merchant_url":
        return http_url(value)
    if key == "urls":
        return _merged_urls(value, staged["urls"])
    return common_switch(key, value)


def positive_int(value) -> int:
    value = int(value)
    if value < 1:
        raise ValueError
    return value


def one_of(value, choices):
    if value not in choices:
        raise ValueError
    return value


def http_url(value) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ValueError
    return value.rstrip("/")


def common_switch(key: str, value):
    """Switch kinds both sandboxes have: counts and milliseconds, seconds, flags, the retry schedule."""
    if key.endswith(("_ms", "_next")):
        value = int(value)
        if value < 0:
            raise ValueError
        return value
    if key.endswith(("_seconds", "_timeout")):
        value = float(value)
        if value <= 0:
            raise ValueError
        return value
    if key == "notify_schedule":
        return parse_schedule(value)
    if not isinstance(value, bool):
        raise ValueError
    return value


def _merged_urls(value, current: dict) -> dict:
    """Per-type URLs: a URL overrides, "" switches the type off, null goes back to the default."""
    if not isinstance(value, dict):
        raise ValueError
    merged = dict(current)
    for kind, url in value.items():
        kind = str(kind).lower()
        if kind not in NOTIFICATION_TYPES:
            raise ValueError
        if url is None:
            merged.pop(kind, None)
        elif url == "" or (isinstance(url, str) and url.startswith(("http://", "https://"))):
            merged[kind] = url
        else:
            raise ValueError
    return merged
