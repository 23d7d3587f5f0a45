"""The customer's own pages: plans to checkout through the provider's widget, the live status of a payment,
my subscription (auto-renew, cancel now with the refund shown first, pay now), invoices, payments, receipts."""
from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/account")

from portal.account import routes  # noqa: E402,F401
