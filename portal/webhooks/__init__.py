"""Provider notifications: /webhooks/cloudpayments/<kind>. Thin: the billing service does the work."""
import logging
import re

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from portal.billing import notifications

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


@bp.route("/cloudpayments/<kind>", methods=["POST", "GET"])
def cloudpayments(kind):
    kind = kind.lower()
    # Refused before a byte of the body is read: the declared length says enough. A chunked body has none
    # and is cut off by the same limit while it is read.
    request.max_content_length = notifications.MAX_NOTIFICATION_BYTES
    declared = request.content_length
    if declared is not None and declared > notifications.MAX_NOTIFICATION_BYTES:
        return _answer(notifications.refuse_oversized(kind, declared, request.content_type, request.remote_addr))
    try:
        # The signature covers the bytes exactly as sent: read them before anything parses the form.
        raw = request.get_data(cache=True) if request.method == "POST" else request.query_string
    except RequestEntityTooLarge:
        return _answer(notifications.refuse_oversized(kind, None, request.content_type, request.remote_addr))
    if len(raw) > notifications.MAX_NOTIFICATION_BYTES:  # a GET's query string
        return _answer(notifications.refuse_oversized(kind, len(raw), request.content_type, request.remote_addr))
    return _answer(notifications.receive(kind, raw, request.headers, request.content_type, request.remote_addr))


def _answer(answer):
    return jsonify(answer.body), answer.status
