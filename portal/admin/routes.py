"""Routes of the admin pages. Each view reads through portal.admin.queries or asks one service of
portal.admin.actions / portal.admin.plans, then renders a page, or its fragment for htmx."""
import csv
import io
import re
from datetime import UTC, datetime, timedelta

from flask import (
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from portal import clock
from portal.admin import actions, audit_log, bp, charts, mails, plans, queries
from portal.admin.labels import code_label, status_label, translated
from portal.admin.plans import parse_money
from portal.auth.session import login_manager
from portal.billing import pauses, prices, provider_choice, review
from portal.billing.errors import BillingError, InvalidRequest, NotFound
from portal.extensions import db
from portal.machines.subscription import SubscriptionMachine
from portal.models import OutgoingMail, Payment, Plan, StaffAction, Subscription, WebhookEvent
from portal.models.catalog import INTERVAL_UNITS
from portal.models.subscription import SUBSCRIPTION_STATUSES
from portal.money import format_money, to_major

MAX_INT = 2**31 - 1
POLL_SECONDS = 1
WEBHOOK_KINDS = ("check", "pay", "fail", "confirm", "refund", "recurrent", "cancel", "receipt")
WEBHOOK_STATUSES = ("received", "processed", "failed", "rejected")
# Fields of a provider notification that are secrets (a saved-card token) or personal: never shown.
SECRET_FIELDS = ("token", "cardholder", "cardholdername", "ipaddress", "email", "phone")


@bp.before_request
def staff_only():
    """Every admin URL, pages and fragments: anonymous → sign in; a customer → 404, as if it did not exist."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.user.is_staff:
        abort(404)


@bp.errorhandler(NotFound)
def not_found(exc):
    abort(404)


@bp.app_template_filter("minor")
def minor_filter(amount, currency):
    """Money in staff pages: always the English form (RUB 299.00), unambiguous in an audit context."""
    return format_money(int(amount or 0), currency, "en") if currency else str(amount)


@bp.app_template_filter("age")
def age_filter(seconds):
    seconds = int(seconds or 0)
    if seconds < 120:
        return _("%(num)s s", num=seconds)
    if seconds < 7200:
        return _("%(num)s min", num=seconds // 60)
    if seconds < 172800:
        return _("%(num)s h", num=seconds // 3600)
    return ngettext("%(num)d day", "%(num)d days", seconds // 86400)


@bp.app_template_global("admin_cause_link")
def cause_link(cause):
    """Globals reach imported macros (context processors do not): the timeline macro links causes with this."""
    return queries.cause_link(cause)


@bp.context_processor
def admin_context():
    return {"poll_seconds": POLL_SECONDS}


def is_htmx() -> bool:
    return (request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"
            and request.headers.get("HX-History-Restore-Request") != "true")


def page_or_fragment(template: str, fragment: str, http_status: int = 200, **context):
    """One view serves the whole page or just its fragment, chosen by HX-Request (and says so in Vary)."""
    response = make_response(render_template(fragment if is_htmx() else template, fragment=fragment, **context),
                             http_status)
    response.vary.add("HX-Request")
    return response


def refusal(exc: BillingError) -> str:
    """Why billing refused, in the page's language (billing's own messages are English; see translated)."""
    return translated(exc.message)


def staff() -> actions.Staff:
    return actions.Staff(current_user.user, request.remote_addr)


def int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and 0 < int(value) <= 2**63 - 1 else None


def date_arg(name: str, end: bool = False) -> datetime | None:
    """A yyyy-mm-dd filter as a UTC moment; an end date includes its whole day."""
    try:
        day = datetime.strptime(request.args.get(name, ""), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return day + timedelta(days=1) if end else day


def choice_arg(name: str, choices) -> str | None:
    value = request.args.get(name) or None
    return value if value in choices else None


def get_or_404(model, row_id: int):
    row = db.session.get(model, row_id) if 0 < row_id <= MAX_INT else None
    if row is None:
        abort(404)
    return row


# --- dashboard --------------------------------------------------------------------------------------------------


@bp.get("/")
def dashboard():
    figures = queries.dashboard()
    revenue_charts = {currency: charts.bar_chart(series) for currency, series in figures["revenue"].items()}
    revenue_totals = {currency: sum(amount for _, amount in series) for currency, series in figures["revenue"].items()}
    return render_template("admin/dashboard.html", f=figures, revenue_charts=revenue_charts,
                           revenue_totals=revenue_totals)


# --- plans ------------------------------------------------------------------------------------------------------


def _plan_page(template, **context):
    return render_template(template, units=INTERVAL_UNITS, **context)


@bp.get("/plans")
def plans_index():
    rows = db.session.scalars(db.select(Plan).order_by(Plan.status, Plan.id)).all()
    counts = {row["id"]: row for row in queries.active_per_plan()}
    used = dict(db.session.execute(db.select(Subscription.plan_id, db.func.count(Subscription.id))
                                   .group_by(Subscription.plan_id)).all())
    return render_template("admin/plans.html", plans=rows, counts=counts, used=used)


@bp.route("/plans/new", methods=["GET", "POST"])
def plan_new():
    form = plans.PlanForm(values={"currency": "RUB", "interval_unit": "month", "interval_count": "1",
                                  "trial_days": "0"})
    if request.method == "POST":
        form = plans.read_form(request.form)
        if form.ok:
            plan = plans.create_plan(staff(), form)
            flash(_("Plan %(code)s created.", code=plan.code), "success")
            return redirect(url_for(".plans_index"), code=303)
    return _plan_page("admin/plan_form.html", form=form, plan=None, sold=0), 422 if form.errors else 200


@bp.route("/plans/<int:plan_id>/edit", methods=["GET", "POST"])
def plan_edit(plan_id):
    plan = get_or_404(Plan, plan_id)
    sold = plans.subscription_count(plan.id)
    form = plans.PlanForm(values={
        "code": plan.code, **{name: getattr(plan, name) for name in plans.WORDS}, "currency": plan.currency,
        "interval_unit": plan.interval_unit, "interval_count": str(plan.interval_count),
        "trial_days": str(plan.trial_days), "price": str(to_major(plan.amount, plan.currency))})
    error = None
    if request.method == "POST":
        form = plans.read_form(request.form, plan)
        if form.ok:
            try:
                changes = plans.update_plan(staff(), plan.id, form)
            except BillingError as exc:
                db.session.rollback()
                error = refusal(exc)
            else:
                flash(_("Plan %(code)s saved: %(changes)s.", code=plan.code,
                        changes=", ".join(changes) or _("nothing changed")), "success")
                return redirect(url_for(".plans_index"), code=303)
    status = 422 if form.errors else 409 if error else 200
    return _plan_page("admin/plan_form.html", form=form, plan=plan, sold=sold, error=error), status


@bp.post("/plans/<int:plan_id>/archive")
def plan_archive(plan_id):
    get_or_404(Plan, plan_id)
    plan = plans.set_archived(staff(), plan_id, request.form.get("archived", "1") == "1")
    flash(_("Plan %(code)s is archived.", code=plan.code) if plan.status == "archived" else
          _("Plan %(code)s is active.", code=plan.code) if plan.status == "active" else
          f"Plan {plan.code} is {plan.status}.", "success")
    return redirect(url_for(".plans_index"), code=303)


@bp.route("/plans/<int:plan_id>/delete", methods=["GET", "POST"])
def plan_delete(plan_id):
    """Deleting a plan is asked first (a page of its own, so it works without JavaScript), then done."""
    plan = get_or_404(Plan, plan_id)
    code = plan.code
    if request.method == "GET" or not _confirmed():
        return render_template("admin/plan_delete.html", plan=plan)
    try:
        plans.delete_plan(staff(), plan_id)
    except BillingError as exc:
        flash(refusal(exc), "error")
        return redirect(url_for(".plans_index"), code=303)
    flash(_("Plan %(code)s deleted.", code=code), "success")
    return redirect(url_for(".plans_index"), code=303)


# --- payment providers ------------------------------------------------------------------------------------------


@bp.get("/providers")
def providers_index():
    return render_template("admin/providers.html", defaults=provider_choice.currency_defaults(),
                           enabled=provider_choice.enabled())


@bp.post("/providers/<currency>")
def provider_set_default(currency):
    try:
        before = plans.set_currency_provider(staff(), currency, request.form.get("provider", ""))
    except BillingError as exc:
        db.session.rollback()
        flash(refusal(exc), "error")
        return redirect(url_for(".providers_index"), code=303)
    flash(_("New %(currency)s checkouts pay with %(provider)s (was %(before)s).", currency=currency,
            provider=request.form["provider"], before=before or _("the first enabled")), "success")
    return redirect(url_for(".providers_index"), code=303)


# --- customers and subscriptions --------------------------------------------------------------------------------


@bp.get("/customers")
def customers():
    q = (request.args.get("q") or "").strip()[:200]
    result = queries.search(q) if q else None
    page = None if q else queries.customers(int_arg("before"))
    live = queries.live_subscriptions([c.id for c in page.rows]) if page else {}
    return page_or_fragment("admin/customers.html", "admin/_customer_results.html", q=q, result=result, page=page,
                            live=live)


@bp.get("/customers/<int:customer_id>")
def customer(customer_id):
    view = queries.customer(customer_id)
    if view is None:
        abort(404)
    return render_template("admin/customer.html", v=view, refundable=actions.refundable,
                           mails=mails.customer_mails(customer_id))


@bp.post("/mails/<int:mail_id>/resend")
def resend_mail(mail_id):
    original = get_or_404(OutgoingMail, mail_id)
    try:
        if original.is_build_record:
            mails.rebuild(staff(), original.id)
            flash(_("Mail #%(id)s (%(purpose)s) is being built again from event #%(event)s.", id=original.id,
                    purpose=original.purpose, event=original.event_id), "success")
        else:
            copy = mails.resend(staff(), original.id)
            flash(_("Mail #%(id)s (%(purpose)s) is sent again to %(to)s as mail #%(copy)s.", id=original.id,
                    purpose=original.purpose, to=copy.to_address, copy=copy.id), "success")
    except BillingError as exc:
        db.session.rollback()
        flash(refusal(exc), "error")
    target = url_for(".customer", customer_id=original.user_id) + "#mails" if original.user_id else url_for(
        ".operations")
    return redirect(target, code=303)


@bp.get("/subscriptions")
def subscriptions():
    status = choice_arg("status", SUBSCRIPTION_STATUSES)
    plan_id = int_arg("plan")
    page = queries.subscriptions(status, plan_id, int_arg("before"))
    all_plans = db.session.scalars(db.select(Plan).order_by(Plan.code)).all()
    return page_or_fragment("admin/subscriptions.html", "admin/_subscription_rows.html", page=page, status=status,
                            plan_id=plan_id, plans=all_plans, statuses=SUBSCRIPTION_STATUSES)


# Lines of a machine's Mermaid text whose labels are read in the page's language: a state's name, an event's.
MERMAID_STATE = re.compile(r'^(\s*state )"[^"]*"( as (\w+))$')
MERMAID_MOVE = re.compile(r"^(\s*\w+ --> \w+ : )(.+?)((?: \[[^\]]*\])?)$")


def _mermaid_label(text: str) -> str:
    text = re.sub(r'[":;#]', " ", str(text)).strip()
    return text[:1].upper() + text[1:]


def _diagram(machine, kind: str) -> str:
    """The machine's Mermaid text with its states and events named in the page's language; the state ids, guards
    and callbacks stay as they are in the code."""
    events = {event.name: event.id for event in machine.events}
    lines = []
    for line in machine.diagram().rstrip().splitlines():
        if state := MERMAID_STATE.match(line):
            line = f'{state[1]}"{_mermaid_label(status_label(kind, state[3]))}"{state[2]}'
        elif (move := MERMAID_MOVE.match(line)) and move[2] in events:
            line = move[1] + _mermaid_label(code_label(f"{kind} event", events[move[2]])) + move[3]
        lines.append(line)
    return "\n".join(lines)


def _lifecycle(sub):
    """The lifecycle for the page: the Mermaid text (current state marked) and the same as a list."""
    diagram = _diagram(SubscriptionMachine, "subscription")
    diagram += f"\n    classDef current fill:#ffe08a,stroke:#8a6100,stroke-width:3px\n    class {sub.status} current\n"
    states = []
    for state in SubscriptionMachine.states:
        moves = []
        for t in state.transitions:
            for event in t.events:
                moves.append((str(event), t.target.value))
        states.append({"value": state.value, "name": state.name, "final": state.final,
                       "current": state.value == sub.status, "moves": moves})
    return diagram, states


def _subscription_context(subscription_id):
    view = queries.subscription(subscription_id) if 0 < subscription_id <= MAX_INT else None
    if view is None:
        abort(404)
    diagram, states = _lifecycle(view.sub)
    return {"v": view, "sub": view.sub, "diagram": diagram, "states": states, "refundable": actions.refundable,
            "offered": actions.offered(view.sub)}


@bp.get("/subscriptions/<int:subscription_id>")
def subscription(subscription_id):
    return page_or_fragment("admin/subscription.html", "admin/_subscription_state.html",
                            **_subscription_context(subscription_id))


# --- actions: confirm, run as a job, poll -----------------------------------------------------------------------


def _action_form(template, status=200, **context):
    return page_or_fragment("admin/action_page.html", template, http_status=status, **context)


def _started(action: StaffAction):
    """After the job is queued: the progress fragment (polling) for htmx, else the action's own page."""
    if is_htmx():
        return _action_status_response(action, 202)
    return redirect(url_for(".action_status", action_id=action.id), code=303)


def _confirmed() -> bool:
    return request.form.get("confirm") == "yes"


@bp.route("/subscriptions/<int:subscription_id>/cancel", methods=["GET", "POST"])
def cancel(subscription_id):
    sub = get_or_404(Subscription, subscription_id)
    when = request.values.get("when", "period_end")
    refund = request.values.get("refund", "1" if request.method == "GET" else "0") == "1"
    reason = request.values.get("reason", "")
    context = {"sub": sub, "when": when, "refund": refund, "reason": reason}
    try:
        preview = actions.cancel_preview(sub, when, refund)
        if request.method == "POST" and _confirmed():
            return _started(actions.request_cancel(staff(), sub.id, when, refund=refund, reason=reason))
    except BillingError as exc:
        return _action_form("admin/_cancel_form.html", exc.status, error=refusal(exc), preview=None, **context)
    return _action_form("admin/_cancel_form.html", preview=preview, confirming=request.method == "POST", **context)


def _amount_arg(payment: Payment) -> int | None:
    raw = request.values.get("amount")
    if raw is None or raw == "":
        return None
    return parse_money(raw, payment.currency)


@bp.route("/payments/<int:payment_id>/refund", methods=["GET", "POST"])
def refund(payment_id):
    payment = get_or_404(Payment, payment_id)
    left = actions.refundable(payment)
    reason = request.values.get("reason", "")
    context = {"payment": payment, "left": left, "reason": reason, "amount_text": request.values.get("amount", "")}
    if request.method == "GET":
        return _action_form("admin/_refund_form.html", preview=None, **context)
    try:
        amount = _amount_arg(payment)
        if amount is None:
            raise InvalidRequest(_("Enter the amount to refund."))
        preview = actions.refund_preview(payment, amount)
        if not reason.strip():
            raise InvalidRequest(_("Give a reason: it goes into the audit log and the timeline."))
        if _confirmed():
            return _started(actions.request_refund(staff(), payment.id, amount, reason=reason))
    except BillingError as exc:
        return _action_form("admin/_refund_form.html", exc.status, error=refusal(exc), preview=None, **context)
    return _action_form("admin/_refund_form.html", preview=preview, amount=amount, confirming=True, **context)


@bp.route("/subscriptions/<int:subscription_id>/grant", methods=["GET", "POST"])
def grant(subscription_id):
    sub = get_or_404(Subscription, subscription_id)
    raw_days = (request.values.get("days") or "").strip()
    reason = request.values.get("reason", "")
    context = {"sub": sub, "days_text": raw_days, "reason": reason}
    if request.method == "GET":
        return _action_form("admin/_grant_form.html", preview=None, **context)
    try:
        days = int(raw_days) if raw_days.isdigit() and len(raw_days) < 6 else 0
        preview = actions.grant_preview(sub, days)
        if not reason.strip():
            raise InvalidRequest(_("Give a reason: it goes into the audit log and the timeline."))
        if _confirmed():
            return _started(actions.request_grant(staff(), sub.id, days, reason=reason))
    except BillingError as exc:
        return _action_form("admin/_grant_form.html", exc.status, error=refusal(exc), preview=None, **context)
    return _action_form("admin/_grant_form.html", preview=preview, days=days, confirming=True, **context)


@bp.route("/subscriptions/<int:subscription_id>/retry-charge", methods=["GET", "POST"])
def retry_charge(subscription_id):
    sub = get_or_404(Subscription, subscription_id)
    reason = request.values.get("reason", "")
    try:
        preview = actions.retry_preview(sub)
        if request.method == "POST" and _confirmed():
            return _started(actions.request_retry_charge(staff(), sub.id, reason=reason))
    except BillingError as exc:
        return _action_form("admin/_retry_form.html", exc.status, error=refusal(exc), preview=None, sub=sub,
                            reason=reason)
    return _action_form("admin/_retry_form.html", preview=preview, sub=sub, reason=reason,
                        confirming=request.method == "POST")


@bp.route("/subscriptions/<int:subscription_id>/change-plan", methods=["GET", "POST"])
def change_plan(subscription_id):
    sub = get_or_404(Subscription, subscription_id)
    plan_code = (request.values.get("plan") or "").strip()
    when = request.values.get("when") or None
    reason = request.values.get("reason", "")
    context = {"sub": sub, "plan_code": plan_code, "when": when, "reason": reason,
               "plans": queries.plans_for_change(sub)}
    if request.method == "GET":
        return _action_form("admin/_change_plan_form.html", preview=None, **context)
    try:
        if not plan_code:
            raise InvalidRequest(_("Choose the plan to change to."))
        preview = actions.change_plan_preview(sub, plan_code, when)
        if not reason.strip():
            raise InvalidRequest(_("Give a reason: it goes into the audit log and the timeline."))
        if _confirmed():
            return _started(actions.request_change_plan(staff(), sub.id, plan_code, when, reason=reason))
    except BillingError as exc:
        return _action_form("admin/_change_plan_form.html", exc.status, error=refusal(exc), preview=None, **context)
    return _action_form("admin/_change_plan_form.html", preview=preview, confirming=True, **context)


def _confirm_action(template, preview_of, request_action, **context):
    """A staff action with a reason: GET shows the form, POST previews it, POST with confirm=yes starts it."""
    reason = request.values.get("reason", "")
    context["reason"] = reason
    if request.method == "GET":
        return _action_form(template, preview=None, **context)
    try:
        preview = preview_of()
        if not reason.strip():
            raise InvalidRequest(_("Give a reason: it goes into the audit log and the timeline."))
        if _confirmed():
            return _started(request_action(reason))
    except BillingError as exc:
        return _action_form(template, exc.status, error=refusal(exc), preview=None, **context)
    return _action_form(template, preview=preview, confirming=True, **context)


@bp.route("/subscriptions/<int:subscription_id>/pause", methods=["GET", "POST"])
def pause(subscription_id):
    sub = get_or_404(Subscription, subscription_id)
    raw = (request.values.get("months") or "1").strip()
    months = int(raw) if raw.isdigit() and len(raw) < 3 else 0
    return _confirm_action("admin/_pause_form.html", lambda: actions.pause_preview(sub, months),
                           lambda reason: actions.request_pause(staff(), sub.id, months, reason=reason),
                           sub=sub, months=months, choices=pauses.PAUSE_MONTHS)


@bp.route("/subscriptions/<int:subscription_id>/resume", methods=["GET", "POST"])
def resume(subscription_id):
    sub = get_or_404(Subscription, subscription_id)
    return _confirm_action("admin/_resume_form.html", lambda: actions.resume_preview(sub),
                           lambda reason: actions.request_resume(staff(), sub.id, reason=reason), sub=sub)


@bp.route("/subscriptions/<int:subscription_id>/remove-card", methods=["GET", "POST"])
def remove_card(subscription_id):
    sub = get_or_404(Subscription, subscription_id)
    return _confirm_action("admin/_remove_card_form.html", lambda: actions.remove_card_preview(sub),
                           lambda reason: actions.request_remove_card(staff(), sub.id, reason=reason), sub=sub)


@bp.route("/subscriptions/<int:subscription_id>/replace-card", methods=["GET", "POST"])
def replace_card(subscription_id):
    sub = get_or_404(Subscription, subscription_id)
    return _confirm_action("admin/_replace_card_form.html", lambda: actions.replace_card_preview(sub),
                           lambda reason: actions.request_card_replacement(staff(), sub.id, reason=reason), sub=sub)


@bp.route("/subscriptions/<int:subscription_id>/resubscribe", methods=["GET", "POST"])
def resubscribe(subscription_id):
    from portal.catalog.service import active_plans

    sub = get_or_404(Subscription, subscription_id)
    plan_code = (request.values.get("plan") or sub.plan.code).strip()
    return _confirm_action("admin/_resubscribe_form.html", lambda: actions.resubscribe_preview(sub, plan_code),
                           lambda reason: actions.request_resubscribe(staff(), sub.id, plan_code, reason=reason),
                           sub=sub, plan_code=plan_code, plans=active_plans())


@bp.route("/subscriptions/<int:subscription_id>/move-price", methods=["GET", "POST"])
def move_price(subscription_id):
    sub = get_or_404(Subscription, subscription_id)
    return _confirm_action("admin/_move_price_form.html", lambda: prices.preview(sub),
                           lambda reason: actions.request_price_move(staff(), sub.id, reason=reason), sub=sub)


@bp.route("/plans/<int:plan_id>/move-subscribers", methods=["GET", "POST"])
def move_plan_subscribers(plan_id):
    plan = get_or_404(Plan, plan_id)
    return _confirm_action("admin/_move_plan_price_form.html", lambda: actions.plan_price_move_preview(plan),
                           lambda reason: actions.request_plan_price_move(staff(), plan.id, reason=reason), plan=plan)


def _action_status_response(action: StaffAction, status=200):
    state = action.details.get("state")
    polls = min(int(request.args.get("polls", "0")) if request.args.get("polls", "").isdigit() else 0, 10**6)
    response = page_or_fragment("admin/action_page.html", "admin/_action.html", http_status=status, action=action,
                                state=state, polls=polls, names=queries.actor_names([f"staff:{action.staff_user_id}"]))
    if state in actions.FINISHED:
        response.headers["HX-Trigger"] = "billing-changed"  # the page's state section reloads itself
    return response


@bp.get("/actions/<int:action_id>")
def action_status(action_id):
    return _action_status_response(get_or_404(StaffAction, action_id))


# --- review queue -----------------------------------------------------------------------------------------------


def _review_page(status=200, **context):
    held = review.held_payments()
    actors = [r.requested_by for p in held for r in p.refunds]
    from portal.billing.fiscal import RECEIPT_DEADLINE

    return make_response(render_template("admin/review.html", held=held, resolved=review.recently_resolved(),
                                         names=queries.actor_names(actors), receipts=review.receipts_to_review(),
                                         deadline=RECEIPT_DEADLINE, now=clock.now(), missing=None, **context),
                         status)


@bp.get("/review")
def review_queue():
    return _review_page()


@bp.post("/review/<int:payment_id>/<resolution>")
def resolve_review(payment_id, resolution):
    payment = get_or_404(Payment, payment_id)
    raw_invoice = (request.form.get("invoice_id") or "").strip().lstrip("#")
    invoice_id = int(raw_invoice) if raw_invoice.isdigit() and len(raw_invoice) < 19 else None
    try:
        return _started(actions.request_review_resolution(staff(), payment.id, resolution,
                                                          note=request.form.get("note", ""), invoice_id=invoice_id))
    except BillingError as exc:
        return _review_page(exc.status, error=refusal(exc), error_payment_id=payment.id)


# --- webhook inbox ----------------------------------------------------------------------------------------------


@bp.get("/webhooks")
def webhooks():
    filters = queries.WebhookFilters(kind=choice_arg("kind", WEBHOOK_KINDS),
                                     status=choice_arg("status", WEBHOOK_STATUSES),
                                     since=date_arg("from"), until=date_arg("to", end=True))
    page = queries.webhooks(filters, int_arg("before"))
    return page_or_fragment("admin/webhooks.html", "admin/_webhook_rows.html", page=page, filters=filters,
                            kinds=WEBHOOK_KINDS, statuses=WEBHOOK_STATUSES, args=request.args)


# What the notification page shows of a body: enough to recognise one, never megabytes.
SHOWN_FIELDS = 100
SHOWN_VALUE_CHARS = 300


def masked_fields(event: WebhookEvent) -> list[tuple[str, str]]:
    """The notification's fields as stored, secrets masked (the card number is masked by the provider
    already), bounded: at most SHOWN_FIELDS fields of at most SHOWN_VALUE_CHARS characters each."""
    import json
    from urllib.parse import parse_qsl

    text = event.body.decode("utf-8", "replace") if event.body else ""
    pairs: list[tuple[str, str]] = []
    try:
        if text.lstrip().startswith("{"):
            pairs = [(k, v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)) for k, v in
                     json.loads(text).items()]
        else:
            pairs = parse_qsl(text, keep_blank_values=True)
    except (ValueError, AttributeError, RecursionError):
        return [(_("(body)"), _("unreadable; not shown"))]
    shown = [(_shorten(k), _("••• (hidden)") if k.lower().replace("_", "") in SECRET_FIELDS and v else _shorten(v))
             for k, v in pairs[:SHOWN_FIELDS]]
    if len(pairs) > SHOWN_FIELDS:
        shown.append(("…", ngettext("%(num)d more field not shown", "%(num)d more fields not shown",
                                     len(pairs) - SHOWN_FIELDS)))
    return shown


def _shorten(value: str) -> str:
    return value if len(value) <= SHOWN_VALUE_CHARS else value[:SHOWN_VALUE_CHARS] + "… (" + ngettext(
        "%(num)d character", "%(num)d characters", len(value)) + ")"


@bp.get("/webhooks/<int:event_id>")
def webhook(event_id):
    event = get_or_404(WebhookEvent, event_id)
    replays = db.session.scalars(db.select(StaffAction).where(StaffAction.target_type == "webhook_event",
                                                              StaffAction.target_id == str(event.id))
                                 .order_by(StaffAction.id.desc())).all()
    return render_template("admin/webhook.html", event=event, fields=masked_fields(event), replays=replays,
                           replayable=event.status in actions.REPLAYABLE)


@bp.route("/webhooks/<int:event_id>/replay", methods=["GET", "POST"])
def webhook_replay(event_id):
    event = get_or_404(WebhookEvent, event_id)
    try:
        if event.status not in actions.REPLAYABLE:
            raise actions.NotAllowed(_("Notification #%(id)s is %(status)s: only received or failed ones are "
                                       "replayed.", id=event.id, status=event.status))
        if request.method == "POST" and _confirmed():
            return _started(actions.request_webhook_replay(staff(), event.id))
    except BillingError as exc:
        return _action_form("admin/_replay_form.html", exc.status, error=refusal(exc), event=event)
    return _action_form("admin/_replay_form.html", event=event, confirming=request.method == "POST")


# --- outbox and jobs --------------------------------------------------------------------------------------------


@bp.get("/operations")
def operations():
    from portal.bus.relay import outbox_backlog
    from portal.mail.delivery import MAX_ATTEMPTS, undelivered

    return render_template("admin/operations.html", backlog=outbox_backlog(), outbox_errors=queries.outbox_errors(),
                           unpublished=queries.oldest_unpublished(), inbox=queries.inbox_health(),
                           jobs=queries.jobs_health(), failed=queries.failed_jobs(), undelivered_mail=undelivered(),
                           mail_max_attempts=MAX_ATTEMPTS)


@bp.post("/jobs/<job_id>/requeue")
def requeue_job(job_id):
    if request.form.get("confirm") != "yes":
        flash(_("Confirm the requeue."), "error")
        return redirect(url_for(".operations"), code=303)
    try:
        actions.requeue_failed_job(staff(), job_id)
    except BillingError as exc:
        flash(refusal(exc), "error")
    else:
        flash(_("Job %(id)s is queued again.", id=job_id), "success")
    return redirect(url_for(".operations"), code=303)


# --- audit log --------------------------------------------------------------------------------------------------


@bp.get("/audit")
def audit():
    filters = queries.AuditFilters(staff_id=int_arg("staff"), action=request.args.get("action") or None,
                                   target_type=request.args.get("target_type") or None,
                                   target_id=(request.args.get("target_id") or "").strip() or None,
                                   since=date_arg("from"), until=date_arg("to", end=True))
    page = queries.audit_log(filters, int_arg("before"))
    names = queries.actor_names([f"staff:{row.staff_user_id}" for row in page.rows])
    return page_or_fragment("admin/audit.html", "admin/_audit_rows.html", page=page, filters=filters, names=names,
                            entries=audit_log.entries(page.rows), staff_members=queries.staff_members(),
                            action_names=queries.audit_actions(),
                            args=request.args)


# --- exports ----------------------------------------------------------------------------------------------------

# What each list exports: its columns, the money columns (written as decimals of the row's currency: 299.00,
# never minor units) and the list's filters it honours besides the created date (?from=&to=).
EXPORTS = {
    "customers": queries.Export("User", ("id", "email", "name", "external_id", "locale", "created_at"), (),
                                {"role": "customer"}),
    "subscriptions": queries.Export("Subscription", (
        "id", "customer_id", "plan_id", "status", "amount", "currency", "current_period_start", "current_period_end",
        "trial_end", "cancel_at_period_end", "canceled_at", "ended_at", "created_at"), ("amount",), {}),
    "invoices": queries.Export("Invoice", (
        "id", "number", "customer_id", "subscription_id", "kind", "status", "amount", "amount_refunded", "currency",
        "period_start", "period_end", "paid_at", "voided_at", "created_at"), ("amount", "amount_refunded"), {}),
    "payments": queries.Export("Payment", (
        "id", "provider", "provider_transaction_id", "invoice_id", "customer_id", "status", "amount",
        "amount_refunded", "currency", "reason_code", "card_type", "card_last_four", "test_mode", "needs_review",
        "created_at"), ("amount", "amount_refunded"), {}),
    "refunds": queries.Export("Refund", (
        "id", "payment_id", "provider", "provider_refund_id", "status", "amount", "currency", "reason",
        "requested_by", "failure", "created_at"), ("amount",), {}),
}
# List filters an export takes from the query string, as the list page sends them.
EXPORT_FILTERS = {"subscriptions": {"status": SUBSCRIPTION_STATUSES, "plan": None}}


def _csv_value(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return "" if value is None else value


@bp.get("/export/<kind>.csv")
def export(kind):
    """A list for accounting, with the list's filters and ?from=&to= on the created date; amounts as decimals."""
    if kind not in EXPORTS:
        abort(404)
    spec = EXPORTS[kind]
    where = dict(spec.where)
    for name, allowed in EXPORT_FILTERS.get(kind, {}).items():
        value = choice_arg(name, allowed) if allowed else int_arg(name)
        if value is not None:
            where["plan_id" if name == "plan" else name] = value
    since, until = date_arg("from"), date_arg("to", end=True)
    money = [spec.columns.index(c) for c in spec.money]
    currency = spec.columns.index("currency") if spec.money else None

    def rows():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(spec.columns)
        for row in queries.export_rows(spec, where, since, until):
            row = list(row)
            for i in money:
                row[i] = f"{to_major(row[i] or 0, row[currency]):f}"
            writer.writerow([_csv_value(value) for value in row])
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    stamp = clock.now().strftime("%Y%m%d-%H%M")
    return Response(stream_with_context(rows()), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{kind}-{stamp}.csv"'})
