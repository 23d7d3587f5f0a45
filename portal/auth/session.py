"""Who is signed in: server-side sessions behind Flask-Login, the guards views use, and the sign-up throttle.

`current_user` is an `Account`: the `User` row is `current_user.user` (pass that to billing services), and
its attributes read through (`current_user.id`, `.email`, `.is_staff`). Every sign-in is a `user_sessions`
row; the cookie carries its random token. A session ends when its owner signs out (the copied cookie is
refused from then on), signs out everywhere, changes or resets the password, or when it has been idle or
alive too long (`SESSION_LIFETIMES`)."""
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial, wraps

from flask import abort, current_app, g, redirect, request, session, url_for
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload

from portal.extensions import db
from portal.models import User, UserSession

log = logging.getLogger(__name__)

login_manager = LoginManager()
login_manager.session_protection = "basic"

# Sign-ups only count when an account was made: a household behind one address (a family, a dormitory, an
# office's NAT) signs up a few people in an evening, and a form re-shown for a typo is no sign-up at all.
# Failed password changes count per account. Sign-in failures are throttled in portal.auth.throttle.
# Reset requests count per address (one machine mailing many mailboxes); each mailbox gets at most one
# mail a minute anyway (portal/account_email.py). A mailed link asking for the account's password counts
# its wrong passwords per address.
DEFAULT_LIMITS = {
    "SIGNUP_LIMIT_PER_ADDRESS": "20 per hour",
    "PASSWORD_CHANGE_LIMIT_PER_ACCOUNT": "5 per minute; 20 per hour",
    "RESET_REQUEST_LIMIT_PER_ADDRESS": "20 per hour",
    "LINK_PASSWORD_LIMIT_PER_ADDRESS": "10 per minute; 50 per hour",
}


@dataclass(frozen=True)
class Lifetime:
    idle: timedelta
    absolute: timedelta


# A customer comes back to the billing pages about once a billing period, to check a charge or change the
# card; signing in at nearly every visit would teach them to reuse a weak password, and the worst a stolen
# customer session does is cancel that customer's subscription (card data never reaches the portal). So:
# two weeks idle, at most a month (the cookie's own lifetime) whatever the use. Staff sessions can refund
# and see every customer: an hour idle and a working day at most, as the admin consoles of payment
# providers do.
SESSION_LIFETIMES = {
    "customer": Lifetime(idle=timedelta(days=14), absolute=timedelta(days=30)),
    "staff": Lifetime(idle=timedelta(hours=1), absolute=timedelta(hours=12)),
}
# last_seen_at is written at most this often per session: idle time is measured to within a minute, and
# a page with a dozen htmx polls does not write a dozen rows.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
MAX_USER_ID = 2**31 - 1


class Account(UserMixin):
    """The signed-in person, wrapping the `users` row (the model stays free of login concerns) and the
    `user_sessions` row this browser signed in with."""

    def __init__(self, user: User, user_session: UserSession, session_id: str):
        self.user = user
        self.user_session = user_session
        self._session_id = session_id

    def __getattr__(self, name):
        return getattr(self.user, name)

    @property
    def is_active(self) -> bool:
        return self.user.anonymized_at is None and self.user.email is not None

    def get_id(self) -> str:
        return self._session_id


def _now() -> datetime:
    # Wall time, not the billing clock: a test clock moved a month ahead must not sign staff out.
    return datetime.now(UTC)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def lifetime_for(user: User) -> Lifetime:
    lifetimes = current_app.config.get("SESSION_LIFETIMES") or SESSION_LIFETIMES
    return lifetimes["staff" if user.is_staff else "customer"]


def session_is_live(user_session: UserSession, user: User, at: datetime | None = None) -> bool:
    at = at or _now()
    lifetime = lifetime_for(user)
    return (user_session.ended_at is None and user_session.last_seen_at + lifetime.idle > at
            and user_session.created_at + lifetime.absolute > at)


def _touch(user_session: UserSession, at: datetime) -> None:
    """Moves last_seen_at on, in a short transaction of its own (a GET commits nothing else). Best effort:
    a failure only makes the session look idle a minute earlier than it is."""
    if at - user_session.last_seen_at < LAST_SEEN_RESOLUTION:
        return
    try:
        with db.engine.begin() as conn:
            conn.execute(update(UserSession.__table__).where(UserSession.__table__.c.id == user_session.id)
                         .values(last_seen_at=at))
    except SQLAlchemyError:
        log.warning("could not record activity of session %s", user_session.id, exc_info=True)


@login_manager.user_loader
def _load_account(session_id: str):
    user_id, _, token = session_id.partition(".")
    if not user_id.isdigit() or int(user_id) > MAX_USER_ID or not token:
        return None
    # One query per request: the session with its user.
    user_session = db.session.scalar(select(UserSession).options(joinedload(UserSession.user))
                                     .where(UserSession.token_hash == _token_hash(token)))
    if user_session is None or user_session.user_id != int(user_id):
        return None
    user, at = user_session.user, _now()
    if not session_is_live(user_session, user, at):
        return None
    account = Account(user, user_session, session_id)
    if not account.is_active:
        return None
    _touch(user_session, at)
    return account


@login_manager.unauthorized_handler
def _unauthorized():
    target = url_for("auth.login", next=request.full_path.rstrip("?") if request.method == "GET" else None)
    if request.headers.get("HX-Request"):
        # An htmx fragment asked after the session ended: send the whole page to the sign-in form.
        response = current_app.response_class(status=401)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def sign_in(user: User) -> None:
    """A new session for the signed-in person, committed with whatever the caller's transaction holds:
    whatever the anonymous session held (its CSRF token included) is dropped, so a planted session cannot be
    carried over. The language is a cookie of its own."""
    session.clear()
    token, at = secrets.token_urlsafe(32), _now()
    user_session = UserSession(user_id=user.id, token_hash=_token_hash(token), created_at=at, last_seen_at=at)
    db.session.add(user_session)
    db.session.commit()
    login_user(Account(user, user_session, f"{user.id}.{token}"))
    session.permanent = True


def _end(query, reason: str) -> int:
    result = db.session.execute(query.where(UserSession.ended_at.is_(None))
                                .values(ended_at=_now(), end_reason=reason)
                                .execution_options(synchronize_session=False))
    return result.rowcount


def sign_out() -> None:
    """Ends this browser's session on the server too: a copy of the cookie signs nobody in afterwards."""
    if current_user.is_authenticated:
        _end(update(UserSession).where(UserSession.id == current_user.user_session.id), "signed out")
        db.session.commit()
    logout_user()
    session.clear()


def end_all_sessions(user: User, except_current: bool = False, *, reason: str = "signed out everywhere") -> int:
    """Ends every session of `user` (all but this browser's with `except_current`), for "sign out
    everywhere", a password change or a password reset. Joins the caller's transaction: the caller commits,
    together with the change that called for it. Returns how many sessions ended."""
    query = update(UserSession).where(UserSession.user_id == user.id)
    if except_current and current_user.is_authenticated and current_user.user.id == user.id:
        query = query.where(UserSession.id != current_user.user_session.id)
    return _end(query, reason)


def customer_required(view):
    """Any signed-in person; the records a view shows are still filtered by owner."""

    @wraps(view)
    def guarded(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(*args, **kwargs)

    return guarded


def staff_required(view):
    """Staff only. Anonymous visitors are sent to sign in; a signed-in customer gets a 404, as if the
    admin pages did not exist (fragments included)."""

    @wraps(view)
    def guarded(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.user.is_staff:
            abort(404)
        return view(*args, **kwargs)

    return guarded


def home_for(user: User) -> str:
    """Where a person lands after signing in: staff to the admin pages once they exist."""
    if user.is_staff:
        for endpoint in current_app.config.get("STAFF_HOME_ENDPOINTS", ("admin.dashboard", "admin.index")):
            if endpoint in current_app.view_functions:
                return url_for(endpoint)
    return url_for("account.subscription")


def staff_home() -> str | None:
    """The admin pages' address for a signed-in staff member (for the navigation), else None."""
    if not current_user.is_authenticated or not current_user.user.is_staff:
        return None
    home = home_for(current_user.user)
    return None if home == url_for("account.subscription") else home


# --- throttling ----------------------------------------------------------------------------------


def _address() -> str:
    # request.remote_addr: behind a proxy, wrap the app in werkzeug's ProxyFix so this is the client.
    return request.remote_addr or "unknown"


def _signed_in_key() -> str:
    return f"user:{current_user.user.id}" if current_user.is_authenticated else _address()


def _failed(response) -> bool:
    return bool(g.get("auth_failed"))


def _account_made(response) -> bool:
    # A sign-up counts once it is answered with a redirect; a form re-shown to fix a field does not.
    return response.status_code < 400


def _limit(name):
    return lambda: current_app.config.get(name) or DEFAULT_LIMITS[name]


def _throttle(app, limiter, endpoint, rules):
    view = app.view_functions[endpoint]
    for name, key_func, deduct_when in rules:
        view = limiter.limit(_limit(name), key_func=key_func, methods=["POST"], deduct_when=deduct_when,
                             scope=f"{endpoint}:{name}")(view)
    app.view_functions[endpoint] = view
    app.extensions.setdefault("limited_endpoints", set()).add(endpoint)


def _only_where_limited(app, limiter):
    """Flask-Limiter hooks itself into every request of the app (before, after and teardown); with no
    application-wide limits those hooks only matter on the endpoints that have limits of their own, so
    everywhere else (provider notifications, the JSON API, pages) they are not run at all."""
    limited = app.extensions["limited_endpoints"]

    def gate(hook, passes_response):
        @wraps(hook)
        def on_limited_endpoints(*args):
            if request.endpoint in limited:
                return hook(*args)
            return args[0] if passes_response else None
        return on_limited_endpoints

    def is_limiters(hook):
        return getattr(hook, "__self__", None) is limiter or (isinstance(hook, partial) and hook.args[:1] == (limiter,))

    for hooks, passes_response in ((app.before_request_funcs, False), (app.after_request_funcs, True),
                                   (app.teardown_request_funcs, False)):
        hooks[None] = [gate(hook, passes_response) if is_limiters(hook) else hook for hook in hooks.get(None, [])]


def init_app(app):
    """After the auth blueprint is registered: the login manager, and the limits on its forms. One limiter
    per app (its storage follows the app's config): Redis when REDIS_URL is set, process memory otherwise."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "portal-limits")
    # Redis away: count in process memory meanwhile rather than refuse every sign-in.
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter = Limiter(key_func=_address, app=app)
    app.extensions["auth_limiter"] = limiter
    _throttle(app, limiter, "auth.signup", [("SIGNUP_LIMIT_PER_ADDRESS", _address, _account_made)])
    _throttle(app, limiter, "auth.password", [("PASSWORD_CHANGE_LIMIT_PER_ACCOUNT", _signed_in_key, _failed)])
    _throttle(app, limiter, "auth.change_email", [("PASSWORD_CHANGE_LIMIT_PER_ACCOUNT", _signed_in_key, _failed)])
    _throttle(app, limiter, "auth.forgot_password", [("RESET_REQUEST_LIMIT_PER_ADDRESS", _address, _account_made)])
    for endpoint in ("auth.verify_email", "auth.confirm_email_change"):
        _throttle(app, limiter, endpoint, [("LINK_PASSWORD_LIMIT_PER_ADDRESS", _address, _failed)])
    _only_where_limited(app, limiter)

    app.jinja_env.globals["staff_home"] = staff_home

    from portal.auth.routes import TooManyAttempts, too_many_attempts

    app.register_error_handler(RateLimitExceeded, too_many_attempts)
    app.register_error_handler(TooManyAttempts, too_many_attempts)
    # The cookie lives as long as the longest session may; the server ends sessions before that.
    app.config["PERMANENT_SESSION_LIFETIME"] = max(
        lifetime.absolute for lifetime in (app.config.get("SESSION_LIFETIMES") or SESSION_LIFETIMES).values())
