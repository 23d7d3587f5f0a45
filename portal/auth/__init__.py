"""Sign up, sign in, sign out and password change for customers and staff alike (one sign-in, role-aware):
server-side sessions behind Flask-Login, the `staff_required` guard for admin pages, and login throttling."""
from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/auth")

from portal.auth import email_routes, routes  # noqa: E402,F401
from portal.auth.session import (  # noqa: E402
    Account,
    customer_required,
    end_all_sessions,
    init_app,
    sign_in,
    sign_out,
    staff_required,
)

__all__ = ["Account", "bp", "customer_required", "end_all_sessions", "init_app", "sign_in", "sign_out",
           "staff_required"]
