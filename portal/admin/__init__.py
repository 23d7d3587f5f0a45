"""Staff admin pages at /admin: dashboard, plans, customers, subscription timelines and actions, the webhook
inbox, outbox and jobs, the audit log and CSV exports. Staff only: a customer gets a 404 on every URL."""
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from portal.admin import labels, receipts, routes  # noqa: E402,F401

__all__ = ["bp"]
