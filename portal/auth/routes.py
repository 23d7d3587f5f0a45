"""Routes of sign up, sign in, sign out and password change."""
import hashlib
import math
import time
from datetime import timedelta

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_login import current_user

from portal import account_email
from portal.accounts import parse_email, password_matches, set_password
from portal.auth import bp, throttle
from portal.auth.credentials import check_credentials
from portal.auth.email_routes import check_your_mail
from portal.auth.session import customer_required, end_all_sessions, home_for, sign_in, sign_out
from portal.extensions import db
from portal.templating import current_locale, safe_next

MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # scrypt over a megabyte of "password" is a denial of service, not a password


def _next_or_home(user):
    return safe_next(request.values.get("next"), home_for(user))


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    errors = {}
    email = (request.form.get("email") or "").strip()
    if request.method == "POST":
        password = request.form.get("password") or ""
        normalised = parse_email(email)
        if normalised is None:
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


class TooManyAttempts(Exception):
    """A sign-in refused before its password is checked; `retry_after` is the real wait in seconds."""

    def __init__(self, retry_after: int):
        super().__init__(retry_after)
        self.retry_after = retry_after


def _throttle_account(email: str) -> str:
    return "account:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    email = (request.form.get("email") or "").strip()
    if request.method == "POST":
        password = request.form.get("password") or ""
        account, address = _throttle_account(email), request.remote_addr or "unknown"
        wait = throttle.seconds_to_wait(account, address)
        if wait:
            raise TooManyAttempts(wait)
        user = check_credentials(parse_email(email), password) if len(password) <= MAX_PASSWORD else None
        if user is not None:
            sign_in(user)
            return redirect(_next_or_home(user), code=303)
        throttle.record_failure(account, address)
        # One message whether the account exists or not: the form is no way to learn who has one.
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


@bp.post("/logout-everywhere")
@customer_required
def logout_everywhere():
    """Every session of this account ends, this browser's too (a lost phone, a shared computer)."""
    end_all_sessions(current_user.user)
    sign_out()
    flash(_("You have signed out on every device."), "info")
    return redirect(url_for("auth.login"), code=303)


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
            # Every session ends with the old password; this browser gets a new one (committed together).
            end_all_sessions(user, reason="password changed")
            sign_in(user)
            flash(_("Your password has been changed. Other devices have been signed out."), "success")
            return redirect(url_for("account.subscription"), code=303)
    return render_template("auth/password.html", errors=errors), 422 if errors else 200


def _retry_after(exc) -> int:
    """Seconds until the refused form may be sent again: the throttle's own answer, or the moment the
    breached limit's window frees a slot."""
    if isinstance(exc, TooManyAttempts):
        return exc.retry_after
    limit = current_app.extensions["auth_limiter"].current_limit
    return max(1, math.ceil(limit.reset_at - time.time())) if limit is not None else 60


def too_many_attempts(exc):
    """Login, sign-up or password form tried too often from here or for this account: the page and
    Retry-After both say how long until it may be sent again."""
    retry_after = _retry_after(exc)
    message = _("Too many attempts. Try again %(when)s.",
                when=format_timedelta(timedelta(seconds=retry_after), threshold=1, add_direction=True))
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
    return page, 429, {"Retry-After": str(retry_after)}


@bp.record_once
def _short_addresses(state):
    """/login and /signup, the addresses people type, lead to the sign-in and sign-up pages (with the plan or
    page they were going to)."""
    for short, endpoint in (("/login", "auth.login"), ("/signup", "auth.signup")):
        state.app.add_url_rule(short, f"short_{endpoint.split('.')[1]}",
                               lambda endpoint=endpoint: redirect(url_for(endpoint, **request.args), code=301))
