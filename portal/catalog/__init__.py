"""The plan catalogue page."""
from flask import Blueprint

bp = Blueprint("catalog", __name__)

from portal.catalog import routes  # noqa: E402,F401
