"""The pages billing mails link to: a failed payment's pay link, the reminders' unsubscribe link (and its
one-click POST, RFC 8058), and the customer's mail preferences on the account page."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.account_email import LinkRefused
from portal.auth import customer_required
from portal.extensions import db
from portal.mail import links, preferences

bp = Blueprint("billing_mail", __name__)


def _refused(exc: LinkRefused):
    return render_template("auth/link_refused.html", message=str(exc.args[0])), 400


@bp.get("/mail/pay/<token>")
def pay(token):
    """A failed payment's pay link: this visit may open the payment page of that one invoice."""
    try:
        invoice = links.open_pay_link(token)
    except LinkRefused as exc:
        return _refused(exc)
    return redirect(url_for("account.pay", invoice_id=invoice.id), code=303)


@bp.route("/mail/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token):
    """GET asks (a mail scanner opening the link must not unsubscribe anyone); POST turns reminders off,
    from the page's button or from the mail program's one-click request."""
    try:
        user = links.unsubscribe_target(token)
    except LinkRefused as exc:
        return _refused(exc)
    if request.method == "POST":
        preferences.set_reminders(user, False, actor="unsubscribe-link")
        db.session.commit()
        return render_template("mail_pages/unsubscribed.html")
    return render_template("mail_pages/unsubscribe.html", token=token, email=user.email)


@bp.post("/account/mail-preferences")
@customer_required
def mail_preferences():
    on = request.form.get("reminders") == "on"
    preferences.set_reminders(current_user.user, on, actor=f"customer:{current_user.user.id}")
    db.session.commit()
    flash(_("Reminder mails are on.") if on else _("Reminder mails are off. Receipts and security mails still come."),
          "info")
    return redirect(url_for("account.subscription") + "#mail-preferences", code=303)
