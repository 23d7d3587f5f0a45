"""Routes of sign up, sign in, sign out and password change."""
from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import account_email
from portal.accounts import find_by_email, normalise_email, password_matches, set_password
from portal.auth import bp
from portal.auth.email_routes import check_your_mail
from portal.auth.session import customer_required, home_for, sign_in, sign_out
from portal.extensions import db
from portal.templating import current_locale, safe_next

MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # scrypt over a megabyte of "password" is a denial of service, not a password


def _next_or_home(user):
    return safe_next(request.values.get("next"), home_for(user))


def _email(raw):
    try:
        return normalise_email(raw)
    except ValueError:
        return None


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    errors = {}
    email = (request.form.get("email") or "").strip()
    if request.method == "POST":
        password = request.form.get("password") or ""
        normalised = _email(email)
        if normalised is None or len(normalised) > 320:
            errors["email"] = _("Enter an email address like name@example.com.")
        if len(password) < MIN_PASSWORD or len(password) > MAX_PASSWORD:
            errors["password"] = _("Use at least %(count)d characters.", count=MIN_PASSWORD)
        elif password != request.form.get("password_again"):
            errors["password_again"] = _("The two passwords differ.")
        if not errors:
            # A taken address answers exactly like a free one; its owner gets a mail saying so.
            account_email.sign_up(normalised, password, locale=current_locale())
            db.session.commit()
            return check_your_mail(normalised)
    # 422: the form is re-shown with what to fix (Turbo and htmx users expect a 4xx for that).
    return render_template("auth/signup.html", errors=errors, email=email,
                           next=request.values.get("next", "")), 422 if errors else 200


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    email = (request.form.get("email") or "").strip()
    if request.method == "POST":
        password = request.form.get("password") or ""
        normalised = _email(email)
        user = find_by_email(normalised) if normalised else None
        if user is not None and len(password) <= MAX_PASSWORD and user.anonymized_at is None \
                and password_matches(user, password):
            sign_in(user)
            return redirect(_next_or_home(user), code=303)
        # One message whether the account exists or not: the form is no way to learn who has one.
        g.auth_failed = True
        error = _("Wrong email or password.")
    elif current_user.is_authenticated:
        return redirect(_next_or_home(current_user.user), code=303)
    return render_template("auth/login.html", error=error, email=email,
                           next=request.values.get("next", "")), 422 if error else 200


@bp.post("/logout")
def logout():
    sign_out()
    flash(_("You have signed out."), "info")
    return redirect(url_for("catalog.index"), code=303)


@bp.route("/password", methods=["GET", "POST"])
@customer_required
def password():
    errors = {}
    if request.method == "POST":
        user = current_user.user
        new = request.form.get("new_password") or ""
        if not password_matches(user, (request.form.get("current_password") or "")[:MAX_PASSWORD]):
            g.auth_failed = True
            errors["current_password"] = _("This is not your current password.")
        elif len(new) < MIN_PASSWORD or len(new) > MAX_PASSWORD:
            errors["new_password"] = _("Use at least %(count)d characters.", count=MIN_PASSWORD)
        elif new != request.form.get("new_password_again"):
            errors["new_password_again"] = _("The two passwords differ.")
        if not errors:
            set_password(user, new)
            db.session.commit()
            # Other sessions carry the old password's stamp and end; this one starts afresh.
            sign_in(user)
            flash(_("Your password has been changed. Other devices have been signed out."), "success")
            return redirect(url_for("account.subscription"), code=303)
    return render_template("auth/password.html", errors=errors), 422 if errors else 200


def too_many_attempts(exc):
    """Login, sign-up or password form tried too often from here or for this account."""
    message = _("Too many attempts. Wait a few minutes and try again.")
    if request.endpoint == "auth.login":
        page = render_template("auth/login.html", error=message, email=request.form.get("email", ""),
                               next=request.values.get("next", ""))
    elif request.endpoint == "auth.signup":
        page = render_template("auth/signup.html", errors={"form": message}, email=request.form.get("email", ""),
                               next=request.values.get("next", ""))
    elif request.endpoint == "auth.password":
        page = render_template("auth/password.html", errors={"form": message})
    else:
        page = render_template("errors/error.html", code=429, message=message)
    return page, 429, {"Retry-After": "60"}
