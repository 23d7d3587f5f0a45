"""CloudPayments sandbox: a small separate Flask app that plays the provider (API, widget, notifications)."""

from __future__ import annotations

import atexit

from flask import Flask

from .runtime import EXTENSION_KEY, Sandbox


def create_app(config: dict | None = None) -> Flask:
    """Build the emulator; keys missing from config are read from env vars of the same name."""
    from . import api, control, kkt, widget

    return build_app(__name__, config, Sandbox, EXTENSION_KEY, (api.bp, widget.bp, control.bp, kkt.bp))


def build_app(import_name: str, config: dict | None, sandbox_class, extension_key: str, blueprints) -> Flask:
    """A sandbox's Flask app (provider-neutral): its live state in app.extensions, its blueprints."""
    config = dict(config or {})
    app = Flask(import_name)
    app.config.update(config)
    app.json.sort_keys = False  # keep the provider's key order in answers
    app.json.ensure_ascii = False

    sandbox = sandbox_class(config)
    app.extensions[extension_key] = sandbox
    atexit.register(sandbox.shutdown)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    return app


__all__ = ["create_app"]
