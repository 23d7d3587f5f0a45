"""YooKassa sandbox: a small separate Flask app that plays YooKassa (API v3, widget, notifications)."""

from __future__ import annotations

from flask import Flask
from werkzeug.exceptions import HTTPException

from .. import build_app
from . import wire
from .runtime import EXTENSION_KEY, Sandbox


def create_app(config: dict | None = None) -> Flask:
    """Build the emulator; keys missing from config are read from env vars of the same name."""
    from . import api, control, widget

    app = build_app(__name__, config, Sandbox, EXTENSION_KEY, (api.bp, widget.bp, control.bp))

    @app.errorhandler(HTTPException)
    def json_error(exc: HTTPException):
        # Every answer is JSON, errors included: the SDK cannot read anything else.
        code = {404: "not_found", 405: "invalid_request"}.get(exc.code, "invalid_request")
        return api.reply(exc.code or 500, wire.error_body(code, exc.description or exc.name))

    @app.errorhandler(Exception)
    def internal_error(exc: Exception):
        app.logger.exception("sandbox error")
        return api.reply(500, wire.error_body("internal_server_error", "Internal server error"))

    return app


__all__ = ["create_app"]
