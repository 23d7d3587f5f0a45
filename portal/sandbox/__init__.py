"""CloudPayments sandbox: a small separate Flask app that plays the provider (API, widget, notifications)."""

from __future__ import annotations

import atexit

from flask import Flask

from .runtime import EXTENSION_KEY, Sandbox


def create_app(config: dict | None = None) -> Flask:
    """Build the emulator; keys missing from config are read from env vars of the same name."""
    config = dict(config or {})
    app = Flask(__name__)
    app.config.update(config)
    app.json.sort_keys = False  # keep the provider's key order in answers
    app.json.ensure_ascii = False

    sandbox = Sandbox(config)
    app.extensions[EXTENSION_KEY] = sandbox
    atexit.register(sandbox.shutdown)

    from . import api, control, widget

    app.register_blueprint(api.bp)
    app.register_blueprint(widget.bp)
    app.register_blueprint(control.bp)
    return app


__all__ = ["create_app"]
