"""HTTP notifications to the merchant: JSON bodies, no signature, from a configurable source address."""

from __future__ import annotations

import json

import requests
from requests.adapters import HTTPAdapter

from ..notify import Delivery, Notifier
from .settings import Settings


class _SourceAddressAdapter(HTTPAdapter):
    """Binds outgoing connections to one local address (the sandbox's stand-in for YooKassa's ranges)."""

    def __init__(self, address: str):
        self._address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self._address, 0)
        super().init_poolmanager(*args, **kwargs)


def _session(source_address: str | None):
    if not source_address:
        return None
    session = requests.Session()
    adapter = _SourceAddressAdapter(source_address)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class WebhookNotifier(Notifier):
    """`{"type":"notification","event":…,"object":…}`; delivered = HTTP 200, whatever the body says."""

    def __init__(self, settings: Settings):
        super().__init__(settings, _session(settings.notify_from))

    def encode(self, fields) -> str:
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))

    def headers(self, delivery: Delivery) -> dict[str, str]:
        return {"Content-Type": "application/json; charset=utf-8", "User-Agent": "YooKassa-Sandbox/1.0"}

    def accepted(self, response: requests.Response) -> bool:
        return response.status_code == 200

    def notify(self, event: str, obj: dict, *, wait_first: bool, first_of_object: bool) -> Delivery | None:
        """Send one event about an object; out_of_order holds back the first event of each object."""
        body = {"type": "notification", "event": event, "object": obj}
        if self._settings["notifications"] == "out_of_order":
            delay = self._settings["delay_ms"] / 1000.0 if first_of_object else 0.0
            url = self._settings.url_for(event)
            if url is None:
                return None
            delivery = self._record(event, url, body, obj["id"])
            self._schedule(delivery, delay, "attempt")
            return delivery
        return self.send(event, body, obj["id"], wait_first=wait_first)
