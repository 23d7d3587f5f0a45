"""The JSON API other services of the platform call: /api/v1."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from portal.api import problems, routes  # noqa: E402,F401

problems.register(bp)


@bp.record_once
def _warn_about_unscoped_tokens(state):
    from portal.api.auth import warn_about_unscoped_tokens

    warn_about_unscoped_tokens(state.app.config.get("API_TOKENS"))
