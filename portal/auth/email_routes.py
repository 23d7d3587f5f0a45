"""Routes of the links we mail: email verification, password reset and email change. Each page checks its
link, asks for what the service needs, and calls one service of portal/account_email.py."""
from flask import flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import account_email
from portal.account_email import LinkRefused
from portal.accounts import parse_email, password_matches
from portal.auth import bp
from portal.auth.session import customer_required, home_for, sign_in
from portal.extensions import db
from portal.templating import current_locale

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MAIL_SENT = "mail_sent"


def check_your_mail(email: str, kind: str = "signup"):
    """After a sign-up or a reset request: the same page whether an account uses the address or not."""
    session[MAIL_SENT] = {"email": email, "kind": kind}
    return redirect(url_for("auth.check_mail"), code=303)


@bp.get("/check-mail")
def check_mail():
    sent = session.get(MAIL_SENT) or {}
    return render_template("auth/check_mail.html", email=sent.get("email"), kind=sent.get("kind", "signup"))


def _refused(exc: LinkRefused):
    return render_template("auth/link_refused.html", message=str(exc.args[0])), 400


def _actor(user) -> str:
    return f"customer:{user.id}"


def _new_password_errors(new: str, again: str) -> dict:
    if len(new) < MIN_PASSWORD or len(new) > MAX_PASSWORD:
        return {"new_password": _("Use at least %(count)d characters.", count=MIN_PASSWORD)}
    if new != again:
        return {"new_password_again": _("The two passwords differ.")}
    return {}


def _is_the_account(user) -> bool:
    """Confirming an address needs the account as well as the link: signed in to it, or its password."""
    if current_user.is_authenticated and current_user.user.id == user.id:
        return True
    given = (request.form.get("password") or "")[:MAX_PASSWORD]
    if given and password_matches(user, given):
        return True
    g.auth_failed = True
    return False


def _confirm(token, target, confirm, *, title, done):
    """The confirmation page of a verification or email-change link, and its button."""
    try:
        user, email = target(token)
    except LinkRefused as exc:
        return _refused(exc)
    signed_in = current_user.is_authenticated and current_user.user.id == user.id
    error = None
    if request.method == "POST":
        if _is_the_account(user):
            try:
                account = confirm(token, actor=_actor(user))
            except LinkRefused as exc:
                db.session.rollback()
                return _refused(exc)
            db.session.commit()
            sign_in(account)
            flash(done, "success")
            return redirect(home_for(account), code=303)
        error = _("This is not the password of this account.")
    return render_template("auth/confirm_email.html", title=title, email=email, signed_in=signed_in,
                           error=error), 422 if error else 200


@bp.route("/verify/<token>", methods=["GET", "POST"])
def verify_email(token):
    def target(token):
        user = account_email.verification_target(token)
        return user, user.email

    return _confirm(token, target, account_email.verify_email,
                    title=_("Confirm your email address"), done=_("Your email address is confirmed."))


@bp.post("/verify/resend")
@customer_required
def resend_verification():
    user = current_user.user
    if user.email_verified_at is None:
        account_email.send_verification(user)
        db.session.commit()
    flash(_("We have sent the link again to %(email)s.", email=user.email), "info")
    return redirect(url_for("account.subscription"), code=303)


@bp.route("/forgot", methods=["GET", "POST"])
def forgot_password():
    error = None
    email = (request.form.get("email") or "").strip()
    if request.method == "POST":
        normalised = parse_email(email)
        if normalised is None:
            error = _("Enter an email address like name@example.com.")
        else:
            account_email.request_password_reset(normalised, locale=current_locale())
            db.session.commit()
            return check_your_mail(normalised, kind="reset")
    return render_template("auth/forgot.html", error=error, email=email), 422 if error else 200


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token):
    try:
        user = account_email.reset_target(token)
    except LinkRefused as exc:
        return _refused(exc)
    errors = {}
    if request.method == "POST":
        new = request.form.get("new_password") or ""
        errors = _new_password_errors(new, request.form.get("new_password_again") or "")
        if not errors:
            account = account_email.reset_password(token, new, actor=_actor(user))
            db.session.commit()
            # Every session made before the reset has ended; this one starts afresh.
            sign_in(account)
            flash(_("Your password has been changed. Every device has been signed out."), "success")
            return redirect(home_for(account), code=303)
    return render_template("auth/reset.html", errors=errors, email=user.email), 422 if errors else 200


@bp.route("/email", methods=["GET", "POST"])
@customer_required
def change_email():
    user = current_user.user
    errors = {}
    email = (request.form.get("email") or "").strip()
    if request.method == "POST":
        normalised = parse_email(email)
        if not password_matches(user, (request.form.get("current_password") or "")[:MAX_PASSWORD]):
            g.auth_failed = True
            errors["current_password"] = _("This is not your current password.")
        elif normalised is None:
            errors["email"] = _("Enter an email address like name@example.com.")
        elif normalised == user.email:
            errors["email"] = _("This is your address already.")
        if not errors:
            account_email.request_email_change(user, normalised)
            db.session.commit()
            flash(_("We have sent a link to %(email)s. Your address changes when you open it.", email=normalised),
                  "info")
            return redirect(url_for("account.subscription"), code=303)
    return render_template("auth/email.html", errors=errors, email=email), 422 if errors else 200


@bp.route("/email/confirm/<token>", methods=["GET", "POST"])
def confirm_email_change(token):
    return _confirm(token, account_email.email_change_target, account_email.confirm_email_change,
                    title=_("Confirm your new email address"), done=_("Your email address has been changed."))
