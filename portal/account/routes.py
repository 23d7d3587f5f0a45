"""Routes of the customer's pages. Each view authenticates, finds the customer's own record (a foreign id is a
404), calls one billing service and renders a page, or only its fragment for htmx."""
from flask import Response, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import NotFound as HTTPNotFound
from werkzeug.exceptions import ServiceUnavailable

from portal.account import bp, labels, service, time_zones
from portal.auth import customer_required
from portal.auth.session import login_manager
from portal.billing import cancellation, cards, documents, fiscal, pauses, plan_change, prices, receipts
from portal.billing.charging import request_repay
from portal.billing.checkout import checkout_provider, start_checkout, widget_parameters
from portal.billing.errors import (
    BillingError,
    InvalidRequest,
    NotAllowed,
    NotFound,
    PaymentUnderWay,
    ProviderUnavailable,
)
from portal.billing.trials import trial_available
from portal.extensions import db
from portal.mail.links import granted_payer
from portal.security import embeds_widget, error_page
from portal.templating import current_locale, current_time_zone

# Polls of a checkout's status before the page stops and says to look again later (~2 minutes).
MAX_STATUS_POLLS = 80
POLL_SECONDS = 1.5


@bp.app_template_global()
def customer_subscription():
    """The signed-in customer's current subscription for any page (the catalogue marks the plan they have)."""
    if not current_user.is_authenticated:
        return None
    return service.current_subscription(current_user.user)


@bp.app_template_global()
def time_zone_choices():
    """The zones the account page offers, named in the page's language, and the one in force."""
    user = current_user.user
    return time_zones.choices(user.time_zone, current_locale()), current_time_zone()


@bp.app_context_processor
def inject_labels():
    return {"labels": labels, "trial_offered": trial_offered}


def trial_offered(plan) -> bool:
    """Whether this visitor would get the plan's free trial (one per customer)."""
    return trial_available(current_user.user if current_user.is_authenticated else None, plan)


@bp.errorhandler(NotFound)
def not_found(exc):
    # Not the customer's, or no such record: the same 404 either way, pages and fragments alike.
    return error_page(HTTPNotFound())


def _customer():
    return current_user.user


def _actor() -> str:
    return f"customer:{current_user.user.id}"


def _cause() -> str:
    return f"customer page {request.method} {request.path} from {request.remote_addr}"


def is_htmx() -> bool:
    """A fragment request, not a boosted navigation or a history restore (those need the whole page)."""
    return (request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"
            and request.headers.get("HX-History-Restore-Request") != "true")


def page_or_fragment(page: str, fragment: str, http_status: int = 200, **context):
    """One view serves the whole page or just its fragment, chosen by HX-Request (and says so in Vary)."""
    response = make_response(render_template(fragment if is_htmx() else page, **context), http_status)
    response.vary.add("HX-Request")
    return response


def _int_arg(name: str, source=None) -> int:
    try:
        return max(0, min(int((request.args if source is None else source).get(name, 0)), 2**31 - 1))
    except ValueError:
        return 0


# --- my subscription ---------------------------------------------------------------------------------


def _subscription_context(sub, change=None, after=0, error=None, landed=None):
    return {
        "sub": sub,
        "change": change if change in service.CHANGES else None,
        # A change that has just been made: the card says what came of it (a refund's amount, a decline's reason).
        "landed": landed if landed in service.CHANGES else None,
        "refund_requested": service.refund_requested(sub) if sub is not None and landed == "cancel_now" else 0,
        "after": after,
        "next_charge": service.next_charge(sub) if sub else None,
        "balance": service.open_balance_invoice(sub) if sub is not None and sub.status == "past_due" else None,
        "last_decline": service.last_decline(sub) if sub is not None and sub.status == "past_due" else None,
        "checkout_invoice": _checkout_invoice(sub),
        "ending": service.ending(sub),
        "card_expiring": sub is not None and cards.card_expires_before(sub, getattr(
            service.next_charge(sub), "at", None)),
        "upgrade_due": plan_change.open_proration(sub),
        # The renewal that first bills the price staff moved the subscription to.
        "price_move": prices.first_renewal_from(sub, sub.price_change_from) if sub is not None and (
            sub.scheduled_amount is not None and sub.current_period_end is not None) else None,
        "error": error,
        "poll_seconds": POLL_SECONDS,
    }


def _checkout_invoice(sub):
    if sub is None or sub.status != "pending":
        return None
    from portal.billing.checkout import open_checkout_invoice

    return open_checkout_invoice(sub)


@bp.get("")
@customer_required
def subscription():
    """The page. Without JavaScript a change comes back here with ?change=: the page refreshes itself until the
    change has landed, then says what came of it (never a flash that the card contradicts)."""
    customer = _customer()
    sub = service.current_subscription(customer)
    change, after, landed = _change_args(sub)
    return page_or_fragment(
        "account/subscription.html", "account/_subscription.html",
        invoices=service.invoices(customer), payments=service.payments(customer),
        past=[s for s in service.subscriptions(customer) if sub is None or s.id != sub.id], current=sub,
        **_subscription_context(sub, None if landed else change, after, landed=landed))


def _change_args(sub):
    change = request.args.get("change")
    if sub is None or change not in service.CHANGES:
        return None, 0, None
    after = _int_arg("after")
    return change, after, change if service.change_done(sub, change, after) else None


@bp.post("/time-zone")
@customer_required
def time_zone():
    """Where the person's times are counted: every page and mail from now on (staff pages too)."""
    user = current_user.user
    try:
        time_zones.set_time_zone(user, request.form.get("time_zone", ""), actor=f"customer:{user.id}")
    except InvalidRequest:
        db.session.rollback()
        message = _("That is not a time zone this site knows. Choose one from the list.")
        template = "errors/_error.html" if is_htmx() else "errors/error.html"
        return render_template(template, code=422, message=message), 422
    db.session.commit()
    flash(_("Times are now shown in this zone: %(zone)s.", zone=dict(
        time_zones.choices(user.time_zone, current_locale())).get(user.time_zone, user.time_zone)), "info")
    return redirect(url_for(".subscription") + "#time-zone", code=303)


@bp.get("/subscriptions/<int:subscription_id>")
@customer_required
def subscription_card(subscription_id):
    """The subscription card alone; while a requested change has not landed yet it keeps polling itself."""
    customer = _customer()
    sub = service.own_subscription(customer, subscription_id)
    change, after, landed = _change_args(sub)
    if not is_htmx():
        return redirect(url_for(".subscription"))
    response = page_or_fragment("account/subscription.html", "account/_subscription.html",
                                **_subscription_context(sub, None if landed else change, after, landed=landed))
    if landed:
        response.headers["HX-Trigger"] = "billing-changed"  # the history section reloads itself
    return response


@bp.get("/history")
@customer_required
def history():
    """Invoices and payments (fragment); refreshed after a change on the subscription card landed."""
    if not is_htmx():
        return redirect(url_for(".subscription") + "#billing-history")
    customer = _customer()
    return page_or_fragment("account/subscription.html", "account/_history.html",
                            invoices=service.invoices(customer), payments=service.payments(customer),
                            current=service.current_subscription(customer))


def _after_change(sub, change, after=0):
    """Answer a change request: the card (polling until the job has run) for htmx, else back to the page."""
    if is_htmx():
        db.session.commit()
        done = service.change_done(sub, change, after)
        response = page_or_fragment("account/subscription.html", "account/_subscription.html",
                                    **_subscription_context(sub, None if done else change, after,
                                                            landed=change if done else None))
        if done:
            response.headers["HX-Trigger"] = "billing-changed"
        return response
    return redirect(url_for(".subscription", change=change, after=after or None), code=303)


def _refused(sub, exc: BillingError):
    """A request the subscription's state does not allow (someone else changed it meanwhile): say so."""
    message = _("That cannot be done right now: the subscription has changed meanwhile. The page shows it as it is.")
    if is_htmx():
        return page_or_fragment("account/subscription.html", "account/_subscription.html", http_status=409,
                                **_subscription_context(sub, error=message))
    flash(message, "error")
    return redirect(url_for(".subscription"), code=303)


@bp.post("/subscriptions/<int:subscription_id>/auto-renew")
@customer_required
def auto_renew(subscription_id):
    """Auto-renew off = cancel at period end; on = undo that before the period ends."""
    sub = service.own_subscription(_customer(), subscription_id)
    turn_on = request.form.get("auto_renew") == "on"
    try:
        if turn_on:
            cancellation.request_undo_cancel(sub.id, actor=_actor(), cause=_cause())
        else:
            cancellation.request_cancel(sub.id, "period_end", actor=_actor(), cause=_cause())
    except BillingError as exc:
        return _refused(sub, exc)
    if turn_on:
        return _after_change(sub, "undo_cancel")
    return _after_change(sub, "cancel_period_end")


@bp.post("/subscriptions/<int:subscription_id>/pause")
@customer_required
def pause(subscription_id):
    """Pause from the period end for one to three months; or, with months=0, take a scheduled pause back."""
    sub = service.own_subscription(_customer(), subscription_id)
    try:
        pauses.request_pause(sub.id, _int_arg("months", request.form), actor=_actor(), cause=_cause())
    except BillingError as exc:
        return _refused(sub, exc)
    return _after_change(sub, "pause")


@bp.post("/subscriptions/<int:subscription_id>/resume")
@customer_required
def resume(subscription_id):
    """Resume a paused subscription now (its new period is charged), or keep renewing instead of pausing."""
    sub = service.own_subscription(_customer(), subscription_id)
    try:
        pauses.request_resume(sub.id, actor=_actor(), cause=_cause())
    except BillingError as exc:
        return _refused(sub, exc)
    return _after_change(sub, "resume")


@bp.route("/subscriptions/<int:subscription_id>/cancel", methods=["GET", "POST"])
@customer_required
def cancel_now(subscription_id):
    """GET: what cancelling now means, the refund amount included, before anything happens. POST: do it."""
    sub = service.own_subscription(_customer(), subscription_id)
    if request.method == "GET":
        if sub.status not in cancellation.LIVE:
            return redirect(url_for(".subscription"))
        return page_or_fragment("account/cancel.html", "account/_cancel_confirm.html", sub=sub,
                                refund=service.cancel_now_refund(sub))
    try:
        cancellation.request_cancel(sub.id, "now", actor=_actor(), cause=_cause())
    except BillingError as exc:
        return _refused(sub, exc)
    return _after_change(sub, "cancel_now")


@bp.post("/subscriptions/<int:subscription_id>/pay-now")
@customer_required
def pay_now(subscription_id):
    """Past due: charge the saved card for the open balance now, in a job; the card polls for the answer."""
    customer = _customer()
    sub = service.own_subscription(customer, subscription_id)
    after = service.last_customer_payment_id(customer)
    try:
        request_repay(sub.id, actor=_actor())
    except BillingError as exc:
        return _refused(sub, exc)
    return _after_change(sub, "repay", after)


@bp.post("/subscriptions/<int:subscription_id>/card")
@customer_required
def replace_card(subscription_id):
    """Replace the renewal card: a card check opens in the widget; the proven card is used from then on."""
    sub = service.own_subscription(_customer(), subscription_id)
    try:
        check = cards.start_card_replacement(sub)
    except BillingError as exc:
        db.session.rollback()
        return _refused(sub, exc)
    db.session.commit()
    return redirect(url_for(".pay", invoice_id=check.id), code=303)


# --- change plan -------------------------------------------------------------------------------------


@bp.get("/subscriptions/<int:subscription_id>/change-plan")
@customer_required
def change_plan(subscription_id):
    """The plans to change to; with ?plan=, what changing to it costs now and when it takes effect, before the
    customer confirms (or why it cannot be done)."""
    sub = service.own_subscription(_customer(), subscription_id)
    if sub.status not in plan_change.CHANGEABLE:
        return redirect(url_for(".subscription"))
    chosen, refusal = None, None
    if request.args.get("plan"):
        try:
            chosen = plan_change.preview(sub, request.args["plan"])
        except NotFound:
            abort(404)
        except BillingError as exc:
            from portal.admin.labels import translated  # here: portal.admin imports this blueprint's labels

            refusal = translated(exc.message)  # in the page's language, its statuses as words
    return page_or_fragment("account/change_plan.html", "account/_change_plan.html", sub=sub, chosen=chosen,
                            refusal=refusal, plans=service.plans_to_change_to(sub))


@bp.post("/subscriptions/<int:subscription_id>/change-plan")
@customer_required
def confirm_plan_change(subscription_id):
    """Confirmed: an upgrade charges the saved card (the card polls for the answer) or opens the widget; a
    downgrade is scheduled for the period end."""
    sub = service.own_subscription(_customer(), subscription_id)
    try:
        change = plan_change.request_plan_change(sub.id, (request.form.get("plan") or "").strip(), actor=_actor(),
                                                 cause=_cause())
    except NotFound:
        abort(404)
    except BillingError as exc:
        db.session.rollback()
        return _refused(sub, exc)
    db.session.commit()  # the proration invoice, and the jobs queued once it is committed
    if change.invoice is not None and not change.charging_card:
        return redirect(url_for(".pay", invoice_id=change.invoice.id), code=303)
    if change.invoice is not None:
        return _after_change(sub, "upgrade", change.invoice.id)
    if change.when == "period_end":
        return _after_change(sub, "plan_scheduled", change.plan.id)
    return _after_change(sub, "plan_changed", change.plan.id)


@bp.post("/subscriptions/<int:subscription_id>/change-plan/undo")
@customer_required
def undo_plan_change(subscription_id):
    """Keep the current plan: the change scheduled for the period end is undone."""
    sub = service.own_subscription(_customer(), subscription_id)
    try:
        plan_change.request_undo(sub.id, actor=_actor(), cause=_cause())
    except BillingError as exc:
        return _refused(sub, exc)
    return _after_change(sub, "plan_unscheduled")


# --- checkout ----------------------------------------------------------------------------------------


@bp.get("/checkout/<plan_code>")
@customer_required
def checkout_plan(plan_code):
    """The chosen plan before paying (where a visitor lands after signing in from the catalogue)."""
    from portal.catalog.service import active_plans

    plan = next((p for p in active_plans() if p.code == plan_code), None)
    if plan is None:
        abort(404)
    return render_template("account/checkout_plan.html", plan=plan, current=service.current_subscription(_customer()))


@bp.post("/checkout")
@customer_required
def checkout():
    """Start (or resume) paying for a plan: the pending subscription and its open invoice, then the widget."""
    try:
        sub, invoice = start_checkout(_customer(), (request.form.get("plan") or "").strip())
    except NotFound:
        abort(404)
    except PaymentUnderWay:
        db.session.rollback()
        flash(_("Your payment for the plan you chose before is being confirmed. Wait a moment: if it does not "
                "go through, you can choose another plan."), "info")
        return redirect(url_for(".subscription"), code=303)
    except NotAllowed:
        db.session.rollback()
        flash(_("You already have a subscription. Manage it here, or cancel it before choosing another plan."),
              "info")
        return redirect(url_for(".subscription"), code=303)
    db.session.commit()
    return redirect(url_for(".pay", invoice_id=invoice.id), code=303)


def _payer(invoice_id: int):
    """The customer a mailed pay link let in to this invoice's payment page (that page only), else the
    signed-in one (portal/mail/links.py)."""
    granted = granted_payer(invoice_id)
    if granted is not None:
        return granted
    return current_user.user if current_user.is_authenticated else None


@bp.get("/pay/<int:invoice_id>")
def pay(invoice_id):
    """The payment page: the provider's widget opens on the invoice's parameters; a status fragment follows."""
    customer = _payer(invoice_id)
    if customer is None:
        return login_manager.unauthorized()
    invoice = service.own_invoice(customer, invoice_id)
    state = service.checkout_state(invoice)
    if state.state == "trial_refused":  # the card check gave way to a paid checkout: that is the page now
        return redirect(url_for(".pay", invoice_id=state.invoice.id))
    if invoice.status != "open" or invoice.kind == "grant":
        if state.state == "card_saved":
            flash(_("Your new card is saved."), "info")
        elif state.final and state.state in ("active", "trialing", "paid"):
            flash(_("This invoice is paid."), "info")
        return redirect(url_for(".subscription"))
    try:
        params = widget_parameters(invoice, locale=current_locale())
    except ProviderUnavailable:
        db.session.rollback()
        return error_page(ServiceUnavailable())
    db.session.commit()
    provider = checkout_provider(invoice)
    embeds_widget(provider.widget_script_url)
    scheme = params.pop("scheme")
    return render_template("account/pay.html", invoice=invoice, sub=invoice.subscription, params=params,
                           scheme=scheme, widget_script_url=provider.widget_script_url, provider=provider.name,
                           after=service.last_payment_id(invoice), status=None, polls=0,
                           poll_seconds=POLL_SECONDS)


@bp.get("/pay/<int:invoice_id>/status")
def pay_status(invoice_id):
    """The checkout's live status, polled by htmx after the widget closed; rendered without its trigger
    once the outcome is known (active, or the decline in plain words) so the polling stops."""
    customer = _payer(invoice_id)
    if customer is None:
        return login_manager.unauthorized()
    invoice = service.own_invoice(customer, invoice_id)
    if not is_htmx():
        return redirect(url_for(".pay", invoice_id=invoice.id))
    polls = _int_arg("n") + 1
    status = service.checkout_state(invoice, _int_arg("after"))
    return page_or_fragment("account/pay.html", "account/_checkout_status.html", invoice=invoice,
                            sub=status.subscription, status=status, after=_int_arg("after"), polls=polls,
                            gave_up=not status.final and polls >= MAX_STATUS_POLLS, poll_seconds=POLL_SECONDS,
                            next_after=service.last_payment_id(invoice))


# --- history -----------------------------------------------------------------------------------------


@bp.get("/invoices/<int:invoice_id>")
@customer_required
def invoice(invoice_id):
    customer = _customer()
    inv = service.own_invoice(customer, invoice_id)
    # A payment someone else made naming this invoice (held for staff) is not the customer's to see.
    return render_template("account/invoice.html", invoice=inv, seller=receipts.seller(),
                           payments=[p for p in inv.payments if p.customer_id == customer.id])


@bp.get("/invoices/<int:invoice_id>/invoice.pdf")
@customer_required
def invoice_pdf(invoice_id):
    inv = service.own_invoice(_customer(), invoice_id)
    return _pdf(documents.invoice_pdf(inv, receipts.seller()), f"invoice-{inv.number}.pdf")


@bp.get("/payments/<int:payment_id>/receipt.pdf")
@customer_required
def receipt_pdf(payment_id):
    payment = service.own_payment(_customer(), payment_id)
    return _pdf(documents.receipt_pdf(payment, receipts.seller(), fiscal.receipts_of(payment.id)),
                f"receipt-{payment.id}.pdf")


def _pdf(content: bytes, filename: str) -> Response:
    return Response(content, content_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/payments/<int:payment_id>/receipt")
@customer_required
def receipt(payment_id):
    """A printable receipt for one payment, with the refunds made from it."""
    payment = service.own_payment(_customer(), payment_id)
    fiscal_receipts = fiscal.receipts_of(payment.id)
    return render_template("account/receipt.html", payment=payment, invoice=payment.invoice,
                           refunds=service.refunds_of(payment), customer=_customer(),
                           fiscal_receipts=fiscal_receipts, number=fiscal.receipt_number(fiscal_receipts),
                           seller=receipts.seller())
