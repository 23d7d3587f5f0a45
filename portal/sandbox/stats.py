"""Counters for tests and benchmarks: API calls, refusals, charges per invoice, requests in flight."""

from __future__ import annotations

import threading
import time
from collections import Counter

from . import wire


class Stats:
    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.since = wire.utcnow()
            self.calls: Counter[str] = Counter()
            self.answered: Counter[str] = Counter()  # by HTTP status
            self.rejected_429 = 0
            self.injected_500 = 0
            self.injected_timeouts = 0
            self.replays = 0
            self.charges: Counter[str] = Counter()
            self.approved: Counter[str] = Counter()
            self.in_flight = 0
            self.in_flight_max = 0
            # Time-weighted in-flight integral, from the first API call on.
            self._area = 0.0
            self._busy = 0.0
            self._first = None
            self._last_change = None

    def _advance(self, now: float) -> None:
        if self._last_change is not None:
            span = now - self._last_change
            self._area += self.in_flight * span
            if self.in_flight:
                self._busy += span
        self._last_change = now

    def enter(self, endpoint: str, limit: int) -> bool:
        """Count the call and take an in-flight slot; False (and a 429 counted) when none is free."""
        now = time.monotonic()
        with self._lock:
            self.calls[endpoint] += 1
            if self._first is None:
                self._first = now
            if self.in_flight >= limit:
                self.rejected_429 += 1
                return False
            self._advance(now)
            self.in_flight += 1
            self.in_flight_max = max(self.in_flight_max, self.in_flight)
            return True

    def leave(self) -> None:
        with self._lock:
            self._advance(time.monotonic())
            self.in_flight -= 1

    def count(self, what: str) -> None:
        with self._lock:
            setattr(self, what, getattr(self, what) + 1)

    def answer(self, status: int) -> None:
        with self._lock:
            self.answered[str(status)] += 1

    def charge(self, invoice_id: str | None, approved: bool) -> None:
        """One payment transaction created (widget or token); the benchmark's double-charge check."""
        key = invoice_id or ""
        with self._lock:
            self.charges[key] += 1
            if approved:
                self.approved[key] += 1

    def snapshot(self) -> dict:
        now = time.monotonic()
        with self._lock:
            self._advance(now)
            window = (now - self._first) if self._first is not None else 0.0
            return {
                "since": wire.iso_date(self.since),
                "api_calls": dict(self.calls),
                "api_calls_total": sum(self.calls.values()),
                "answered_by_status": dict(self.answered),
                "rejected_429": self.rejected_429,
                "injected_500": self.injected_500,
                "injected_timeouts": self.injected_timeouts,
                "idempotent_replays": self.replays,
                "charges_per_invoice": dict(self.charges),
                "approved_charges_per_invoice": dict(self.approved),
                "in_flight": self.in_flight,
                "in_flight_max": self.in_flight_max,
                "in_flight_avg": round(self._area / window, 4) if window > 0 else 0.0,
                "in_flight_avg_busy": round(self._area / self._busy, 4) if self._busy > 0 else 0.0,
            }
