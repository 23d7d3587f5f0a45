"""Notification delivery to the merchant: the delivery log and background retries (provider-neutral),
with CloudPayments' signed form posts as the default wire format."""

from __future__ import annotations

import heapq
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests

from . import wire
from .settings import Settings


@dataclass
class Delivery:
    id: int
    type: str
    url: str
    body: str
    transaction_id: int | None
    created: datetime
    generation: int
    attempts: int = 0
    last_status: int | str | None = None  # HTTP status, or "timeout" / "error" / "dropped"
    last_answer: str | None = None
    last_attempt: datetime | None = None
    next_attempt: datetime | None = None
    delivered: bool = False
    history: list = field(default_factory=list)  # every attempt: when, and the HTTP status or failure

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "type": self.type,
            "url": self.url,
            "transaction_id": self.transaction_id,
            "body": self.body,
            "attempts": self.attempts,
            "last_status": self.last_status,
            "last_answer": self.last_answer,
            "delivered": self.delivered,
            "created": wire.iso_date(self.created),
            "last_attempt": wire.iso_date(self.last_attempt),
            "next_attempt": wire.iso_date(self.next_attempt),
            "history": list(self.history),
        }


def _answer_code(response: requests.Response) -> int | None:
    """The merchant's `{"code": N}`, or None when the answer is not that shape."""
    try:
        data = response.json()
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    code = data.get("code", data.get("Code"))
    if isinstance(code, bool):
        return None
    try:
        return int(code)
    except (TypeError, ValueError):
        return None


class Notifier:
    """Posts notifications, keeps every one in a log, and retries failures on a timer thread.

    The wire format is CloudPayments' (signed form bodies, `{"code": 0}` answers); another provider's
    sandbox overrides `encode`, `headers` and `accepted`, and may give its own `session`.
    """

    def __init__(self, settings: Settings, session: requests.Session | None = None):
        self._settings = settings
        # A fresh connection per post unless a provider needs its own (e.g. a fixed source address).
        self._session = session or requests
        self._lock = threading.Condition()
        self._log: dict[int, Delivery] = {}
        self._ids = itertools.count(1)
        self._seq = itertools.count()
        self._queue: list[tuple[float, int, int, str]] = []  # (due, seq, delivery id, job)
        self._generation = 0
        self._closed = False
        # Sends run in a pool so one hanging merchant URL does not hold up the others.
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sandbox-notify")
        # Started on the first retry, so apps that never retry (most test apps) cost no thread.
        self._timer: threading.Thread | None = None

    # --- what the payment code calls ---

    def check(self, fields: list[tuple[str, str]], transaction_id: int) -> tuple[int | None, Delivery | None]:
        """Send Check and wait for the answer: the merchant's code, or None if unreachable or garbled.

        Check is never retried, dropped or delayed by the fault switches: the provider only asks once
        and declines when it cannot get an answer. With the Check URL switched off it is not sent.
        """
        url = self._settings.url_for("check")
        if url is None:
            return 0, None
        delivery = self._record("check", url, fields, transaction_id)
        response = self._post(delivery)
        if response is None or response.status_code != 200:
            return None, delivery
        return _answer_code(response), delivery

    def send(self, kind: str, fields: list[tuple[str, str]], transaction_id: int | None,
             wait_first: bool) -> Delivery | None:
        """Queue a notification; with wait_first the first attempt happens before this returns."""
        url = self._settings.url_for(kind)
        if url is None:
            return None
        delivery = self._record(kind, url, fields, transaction_id)
        mode = self._settings["notifications"]
        if mode == "drop":
            with self._lock:
                delivery.last_status = "dropped"
            return delivery
        if mode == "delay":
            self._schedule(delivery, self._settings["delay_ms"] / 1000.0, "attempt")
        elif wait_first:
            self._attempt(delivery)
        else:
            self._schedule(delivery, 0.0, "attempt")
        if mode == "duplicate":
            # The copy is a separate post of the same bytes: the merchant must dedupe it.
            self._schedule(delivery, self._settings["delay_ms"] / 1000.0, "echo")
        return delivery

    # --- log and control ---

    def entries(self, kind: str | None = None, transaction_id: int | None = None) -> list[dict]:
        with self._lock:
            rows = [d.to_json() for d in self._log.values()
                    if (kind is None or d.type == kind)
                    and (transaction_id is None or d.transaction_id == transaction_id)]
        return sorted(rows, key=lambda row: row["id"])

    def redeliver(self, delivery_id: int) -> dict | None:
        """One immediate attempt, whatever happened before; pending retries stay as they were."""
        with self._lock:
            delivery = self._log.get(delivery_id)
        if delivery is None:
            return None
        self._post(delivery)
        with self._lock:
            return delivery.to_json()

    def reset(self) -> None:
        with self._lock:
            self._generation += 1
            self._log.clear()
            self._queue.clear()
            self._lock.notify_all()

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- internals ---

    def _record(self, kind: str, url: str, fields, transaction_id) -> Delivery:
        with self._lock:
            delivery = Delivery(next(self._ids), kind, url, self.encode(fields), transaction_id,
                                wire.utcnow(), self._generation)
            self._log[delivery.id] = delivery
            return delivery

    # --- the wire format ---

    def encode(self, fields) -> str:
        return wire.form_encode(fields)

    def headers(self, delivery: Delivery) -> dict[str, str]:
        return {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "User-Agent": "CloudPayments-Sandbox/1.0",
            **wire.signature_headers(self._settings.api_secret, delivery.body),
        }

    def accepted(self, response: requests.Response) -> bool:
        return response.status_code == 200 and _answer_code(response) == 0

    def _post(self, delivery: Delivery) -> requests.Response | None:
        """One POST of the stored body; records the outcome on the delivery."""
        response, status, answer = None, None, None
        try:
            response = self._session.post(delivery.url, data=delivery.body.encode("utf-8"),
                                          headers=self.headers(delivery),
                                          timeout=self._settings["notify_timeout"], allow_redirects=False)
            status, answer = response.status_code, response.text[:500]
        except requests.Timeout:
            status = "timeout"
        except requests.RequestException as exc:
            status, answer = "error", str(exc)[:500]
        ok = response is not None and self.accepted(response)
        with self._lock:
            delivery.attempts += 1
            delivery.last_attempt = wire.utcnow()
            delivery.last_status, delivery.last_answer = status, answer
            delivery.history.append({"at": wire.iso_date(delivery.last_attempt), "status": status})
            delivery.delivered = delivery.delivered or ok
        return response

    def _attempt(self, delivery: Delivery) -> None:
        """Post, and on failure put the next retry on the compressed schedule."""
        self._post(delivery)
        with self._lock:
            if delivery.delivered or delivery.generation != self._generation:
                delivery.next_attempt = None
                return
            if delivery.attempts >= self._settings["notify_max_attempts"]:
                delivery.next_attempt = None
                return
        schedule = self._settings["notify_schedule"]
        self._schedule(delivery, schedule[min(delivery.attempts, len(schedule)) - 1], "attempt")

    def _schedule(self, delivery: Delivery, delay: float, job: str) -> None:
        with self._lock:
            due = wire.utcnow() + timedelta(seconds=delay)
            if job == "attempt":
                delivery.next_attempt = due
            heapq.heappush(self._queue, (due.timestamp(), next(self._seq), delivery.id, job))
            if self._timer is None and not self._closed:
                self._timer = threading.Thread(target=self._run_timer, name="sandbox-notify-timer", daemon=True)
                self._timer.start()
            self._lock.notify_all()

    def _run_timer(self) -> None:
        while True:
            with self._lock:
                while not self._closed:
                    now = wire.utcnow().timestamp()
                    if self._queue and self._queue[0][0] <= now:
                        break
                    timeout = self._queue[0][0] - now if self._queue else None
                    self._lock.wait(timeout)
                if self._closed:
                    return
                _, _, delivery_id, job = heapq.heappop(self._queue)
                delivery = self._log.get(delivery_id)
                if delivery is None or (job == "attempt" and delivery.delivered):
                    continue
            try:
                self._pool.submit(self._attempt if job == "attempt" else self._post, delivery)
            except RuntimeError:  # pool shut down underneath us
                return
