"""Provider notifications: /webhooks/cloudpayments/<kind>. Thin: the billing service does the work."""
from flask import Blueprint, jsonify, request

from portal.billing import notifications

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.route("/cloudpayments/<kind>", methods=["POST", "GET"])
def cloudpayments(kind):
    # The signature covers the bytes exactly as sent: read them before anything parses the form.
    raw = request.get_data(cache=True) if request.method == "POST" else request.query_string
    answer = notifications.receive(kind.lower(), raw, request.headers, request.content_type, request.remote_addr)
    return jsonify(answer.body), answer.status
