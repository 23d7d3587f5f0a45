"""The sandbox's live state (settings, store, counters, notifier), one per app, reachable from views."""

from __future__ import annotations

from flask import current_app

from .kkt import Register
from .notify import Notifier
from .settings import Settings
from .stats import Stats
from .store import Store

EXTENSION_KEY = "cloudpayments_sandbox"


class Sandbox:
    def __init__(self, config: dict):
        self.settings = Settings(config)
        self.store = Store(self.settings.api_secret)
        self.stats = Stats()
        self.notifier = Notifier(self.settings)
        self.register = Register()  # CloudKassir's register

    def reset(self) -> None:
        """Back to start-up settings with empty storage, counters and delivery log."""
        self.settings.reset()
        self.store.clear()
        self.stats.reset()
        self.notifier.reset()
        if hasattr(self, "register"):  # CloudPayments' register (the YooKassa sandbox shares this base)
            self.register.reset()

    def shutdown(self) -> None:
        self.notifier.shutdown()


def current() -> Sandbox:
    return current_app.extensions[EXTENSION_KEY]
