"""Provider notifications: /webhooks/<provider>[/<kind>]. Thin: the billing service and the provider's
adapter do the work."""
import logging
import re

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from portal.billing import notifications
from portal.providers import enabled_providers

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

_NOTIFICATION_QUERY = re.compile(r"(/webhooks/[^?\s]*)\?\S*")


class WithoutNotificationQueries(logging.Filter):
    """Access log lines without a notification's query string: a GET notification (a cabinet option)
    carries its fields there, the card token among them. gunicorn's format (portal/web_server.py) leaves
    every query string out; this is for werkzeug's server (`flask run`, the tests' live server)."""

    def filter(self, record):
        if isinstance(record.args, tuple):
            record.args = tuple(_NOTIFICATION_QUERY.sub(r"\1?(query not logged)", arg) if isinstance(arg, str)
                                else arg for arg in record.args)
        return True


@bp.record_once
def _keep_queries_out_of_access_logs(state):
    access_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, WithoutNotificationQueries) for f in access_log.filters):
        access_log.addFilter(WithoutNotificationQueries())


# CloudPayments' addresses, as its merchant cabinet is set up; every other provider under its own name.
@bp.route("/cloudpayments/<kind>", methods=["POST", "GET"], defaults={"provider": "cloudpayments"})
@bp.route("/<provider>", methods=["POST", "GET"])
@bp.route("/<provider>/<kind>", methods=["POST", "GET"])
def notification(provider, kind=None):
    """Every provider's notifications: /webhooks/cloudpayments/<kind>, /webhooks/yookassa, ... The
    provider's adapter authenticates, reads and answers them; a provider not enabled here is a 404."""
    if provider not in enabled_providers():
        return jsonify({"message": f"no payment provider {provider!r} is enabled here"}), 404
    kind = kind.lower() if kind is not None else None
    # Refused before a byte of the body is read: the declared length says enough. A chunked body has none
    # and is cut off by the same limit while it is read.
    request.max_content_length = notifications.MAX_NOTIFICATION_BYTES
    declared = request.content_length
    if declared is not None and declared > notifications.MAX_NOTIFICATION_BYTES:
        return _oversized(provider, kind, declared)
    try:
        # A signature covers the bytes exactly as sent: read them before anything parses the form.
        raw = request.get_data(cache=True) if request.method == "POST" else request.query_string
    except RequestEntityTooLarge:
        return _oversized(provider, kind, None)
    if len(raw) > notifications.MAX_NOTIFICATION_BYTES:  # a GET's query string
        return _oversized(provider, kind, len(raw))
    return _answer(notifications.receive(provider, kind, raw, request.headers, request.content_type,
                                         request.remote_addr))


def _oversized(provider, kind, length):
    return _answer(notifications.refuse_oversized(provider, kind, length, request.content_type, request.remote_addr))


def _answer(answer):
    if isinstance(answer.body, dict):
        return jsonify(answer.body), answer.status
    return Response(answer.body, status=answer.status, content_type=answer.content_type)
