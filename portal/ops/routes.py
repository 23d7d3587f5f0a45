"""/metrics, the staff page of a customer's test clock, and the test-clock API (sandbox mode only)."""
from datetime import datetime, timedelta

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from portal import clock
from portal.billing.errors import BillingError, InvalidRequest, NotFound
from portal.extensions import db
from portal.models import Subscription, TestClock, User
from portal.ops import metrics, metrics_allowed, test_clock

metrics_bp = Blueprint("metrics", __name__)
admin_bp = Blueprint("test_clock_admin", __name__, url_prefix="/admin/customers/<int:customer_id>/test-clock")
api_bp = Blueprint("test_clock_api", __name__, url_prefix="/api/v1/test-clocks")
MAX_DAYS = 3 * 366


@metrics_bp.get("/metrics")
def metrics_page():
    if not metrics_allowed(current_app.config):
        return ("/metrics answers clients on this machine, or a bearer token: Authorization: Bearer "
                "<METRICS_TOKEN>\n", 401, {"WWW-Authenticate": 'Bearer realm="metrics"', "Content-Type": "text/plain"})
    body, content_type = metrics.exposition(current_app._get_current_object())
    return body, 200, {"Content-Type": content_type, "Cache-Control": "no-store"}


# --- staff ------------------------------------------------------------------------------------------------------


@admin_bp.before_request
def staff_only():
    from portal.admin.routes import staff_only as admin_staff_only

    return admin_staff_only()


def _customer(customer_id: int) -> User:
    customer = db.session.get(User, customer_id)
    if customer is None:
        abort(404)
    return customer


def _page(customer: User, status=200, **context):
    subs = db.session.scalars(select(Subscription).where(Subscription.customer_id == customer.id)
                              .order_by(Subscription.id)).all()
    row = db.session.get(TestClock, customer.id)
    return render_template("ops/test_clock.html", customer=customer, subscriptions=subs, clock_row=row,
                           customer_now=test_clock.customer_now(customer.id) if test_clock.sandbox_mode() else None,
                           sandbox=test_clock.sandbox_mode(), **context), status


def _days() -> int:
    value = (request.form.get("days") or "").strip()
    if not value.isdigit() or not 1 <= int(value) <= MAX_DAYS:
        raise InvalidRequest(f"Give a whole number of days from 1 to {MAX_DAYS}.")
    return int(value)


@admin_bp.get("")
def show(customer_id):
    return _page(_customer(customer_id))


@admin_bp.post("")
def advance(customer_id):
    """Two steps, as every staff action: the form says how many days, the confirmation carries the clock
    it was shown (so a repeated confirmation moves it once) and is recorded in the audit log."""
    from portal.admin.actions import audit
    from portal.admin.routes import staff

    customer = _customer(customer_id)
    try:
        test_clock.refuse_unless_sandbox()
        days = _days()
        if request.form.get("confirm") != "yes":
            return _page(customer, confirm_to=test_clock.customer_now(customer.id) + timedelta(days=days), days=days,
                         seen_offset=int(test_clock.offset_of(customer.id).total_seconds()))
        seen = (request.form.get("offset") or "").strip()
        if not seen.isdigit():
            raise InvalidRequest("The confirmation lost the clock it was about; ask again.")
        row = test_clock.advance_by(customer.id, days, seen_offset=int(seen), actor=staff().actor)
        audit(staff(), "advance_test_clock", "customer", customer.id,
              {"days": days, "from_offset_seconds": int(seen), "offset_seconds": row.offset_seconds})
        db.session.commit()
        to = test_clock.customer_now(customer.id)
    except BillingError as error:
        db.session.rollback()
        return _page(customer, status=error.status, error=error.message)
    flash(f"The clock of {customer.email or customer.id} is at {to:%Y-%m-%d %H:%M} UTC; the ticks run now.", "success")
    return redirect(url_for(".show", customer_id=customer.id), code=303)


def _moment(value: str | None) -> datetime:
    try:
        moment = datetime.fromisoformat((value or "").strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest("`to` must be an ISO 8601 time with a zone, like 2027-01-31T00:00:00Z") from None
    if moment.tzinfo is None:
        raise InvalidRequest("`to` needs a time zone, like 2027-01-31T00:00:00Z")
    return moment


# --- API --------------------------------------------------------------------------------------------------------


@api_bp.before_request
def require_token():
    from portal.api.auth import authenticate

    authenticate()


@api_bp.errorhandler(BillingError)
@api_bp.errorhandler(InvalidRequest)
def _problem(error):
    from portal.api.problems import as_problem, problem_response

    db.session.rollback()
    return problem_response(as_problem(error))


@api_bp.errorhandler(Exception)
def _api_problem(error):
    from portal.api.problems import ApiProblem, problem_response

    if isinstance(error, ApiProblem):
        return problem_response(error)
    raise error


def _api_customer(external_id: str) -> User:
    customer = db.session.scalar(select(User).where(User.external_id == external_id[:128]))
    if customer is None:
        raise NotFound(f"no customer with external id {external_id!r}")
    return customer


def _clock_body(customer: User) -> dict:
    row = db.session.get(TestClock, customer.id)
    return {"customer": customer.external_id, "now": test_clock.customer_now(customer.id).isoformat(),
            "real_now": clock.process_now().isoformat(), "offset_seconds": row.offset_seconds if row else 0}


@api_bp.get("/<external_id>")
def api_show(external_id):
    test_clock.refuse_unless_sandbox()
    return jsonify(_clock_body(_api_customer(external_id)))


@api_bp.post("/<external_id>/advance")
def api_advance(external_id):
    """{"to": "2027-01-31T00:00:00Z"}: the customer's time moves there (never back); idempotent."""
    from flask import g

    test_clock.refuse_unless_sandbox()
    customer = _api_customer(external_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "to" not in body:
        raise InvalidRequest('send a JSON body {"to": "<ISO 8601 time with a zone>"}')
    test_clock.advance_to(customer.id, _moment(str(body["to"])), actor=f"api:{g.api_client}")
    db.session.commit()
    return jsonify(_clock_body(customer))
