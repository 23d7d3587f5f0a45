"""The JSON API other services of the platform call: /api/v1."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from portal.api import problems, routes  # noqa: E402,F401

problems.register(bp)
