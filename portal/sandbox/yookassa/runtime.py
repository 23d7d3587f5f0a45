"""The YooKassa sandbox's live state (settings, store, faults, counters, notifier), one per app."""

from __future__ import annotations

import threading

from flask import current_app

from ..runtime import Sandbox as SandboxState
from ..stats import Stats
from .notify import WebhookNotifier
from .settings import FAULTS, OPERATIONS, Settings
from .store import Store

EXTENSION_KEY = "yookassa_sandbox"


class Faults:
    """Per-operation fault switches: for the next N calls (count) or until cleared (count null)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rules: list[dict] = []

    def add(self, operation: str, fault: str, count: int | None, latency_ms: int) -> dict:
        if operation != "*" and operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; one of {', '.join(OPERATIONS)} or *")
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {', '.join(FAULTS)}")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise ValueError("count must be a positive integer, or null for until cleared")
        if isinstance(latency_ms, bool) or not isinstance(latency_ms, int) or latency_ms < 0:
            raise ValueError("latency_ms must be a non-negative integer")
        rule = {"operation": operation, "fault": fault, "count": count, "latency_ms": latency_ms}
        with self._lock:
            self._rules.append(rule)
        return dict(rule)

    def take(self, operation: str) -> list[str | tuple[str, int]]:
        """The faults for this call, each consumed once: every matching latency (as ("latency", ms)) and
        the first matching answer fault; later answer faults wait for the following calls."""
        taken, answered = [], False
        with self._lock:
            for rule in list(self._rules):
                if rule["operation"] not in {"*", operation}:
                    continue
                if rule["fault"] == "latency":
                    taken.append(("latency", rule["latency_ms"]))
                elif answered:
                    continue
                else:
                    taken.append(rule["fault"])
                    answered = True
                if rule["count"] is not None:
                    rule["count"] -= 1
                    if rule["count"] == 0:
                        self._rules.remove(rule)
        return taken

    def snapshot(self) -> list[dict]:
        with self._lock:
            return [dict(rule) for rule in self._rules]

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()


class Sandbox(SandboxState):
    def __init__(self, config: dict):
        self.settings = Settings(config)
        self.store = Store(self.settings.state_file)
        self.faults = Faults()
        self.stats = Stats()
        self.notifier = WebhookNotifier(self.settings)

    def reset(self) -> None:
        """Back to start-up settings with empty storage, faults, counters and delivery log."""
        super().reset()
        self.faults.clear()


def current() -> Sandbox:
    return current_app.extensions[EXTENSION_KEY]
