"""What every provider adapter's HTTP client shares: one requests.Session per thread (in-process jobs
share an adapter, and a Session is not documented as thread-safe), HTTP Basic auth, the terminal's call
slots (PROVIDER_CONCURRENCY) and transport failures as provider errors, retryable where they pass."""
from __future__ import annotations

import threading
from contextlib import nullcontext

import requests

from portal.ops import metrics
from portal.providers.base import ProviderError, RetryableProviderError


class ProviderHttp:
    def __init__(self, label: str, auth: tuple[str, str], timeout: tuple[float, float], call_slots=None):
        self.label = label  # "CloudPayments", "YooKassa": how errors name the provider
        self._auth = auth
        self.timeout = timeout
        self.call_slots = call_slots  # the terminal's concurrency limit, shared by all processes (or None)
        self._local = threading.local()

    def request(self, method: str, url: str, what: str, **kwargs) -> requests.Response:
        """One call, bounded by the timeout and holding a call slot; `what` names it in errors."""
        try:
            with self.call_slots.held() if self.call_slots else nullcontext():
                response = self._session().request(method, url, timeout=self.timeout, **kwargs)
            metrics.provider_call(self.label.lower(), what, response.status_code, response.elapsed.total_seconds())
            return response
        except requests.Timeout as error:
            raise RetryableProviderError(f"{self.label} {what} timed out: {error}") from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
            raise RetryableProviderError(f"{self.label} {what} unreachable: {error}") from None
        except requests.RequestException as error:
            raise ProviderError(f"{self.label} {what} request failed: {error}") from None

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.auth = self._auth
            session.headers["Accept"] = "application/json"
            self._local.session = session
        return session
