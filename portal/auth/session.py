"""Who is signed in: Flask-Login wiring, the guards views use, and the login throttle.

`current_user` is an `Account`: the `User` row is `current_user.user` (pass that to billing services), and
its attributes read through (`current_user.id`, `.email`, `.is_staff`). The session id includes a stamp
of the password hash, so changing the password signs every other session out."""
import hashlib
import hmac
from functools import wraps

from flask import abort, current_app, g, redirect, request, session, url_for
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from portal.extensions import db
from portal.models import User

login_manager = LoginManager()
login_manager.session_protection = "basic"

# Failed sign-ins only count. Per address (one machine guessing many accounts), per account from one
# address (guessing one password), per account from anywhere (a distributed guess) — the last is loose
# enough that strangers cannot keep the owner out by failing on purpose from one or two addresses.
DEFAULT_LIMITS = {
    "LOGIN_LIMIT_PER_ADDRESS": "30 per minute; 300 per hour",
    "LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS": "5 per minute; 20 per hour",
    "LOGIN_LIMIT_PER_ACCOUNT": "100 per hour",
    "SIGNUP_LIMIT_PER_ADDRESS": "10 per hour",
    "PASSWORD_CHANGE_LIMIT_PER_ACCOUNT": "5 per minute; 20 per hour",
}


class Account(UserMixin):
    """The signed-in person, wrapping the `users` row (the model stays free of login concerns)."""

    def __init__(self, user: User):
        self.user = user

    def __getattr__(self, name):
        return getattr(self.user, name)

    @property
    def is_active(self) -> bool:
        return self.user.anonymized_at is None and self.user.email is not None

    def get_id(self) -> str:
        return f"{self.user.id}.{session_stamp(self.user)}"


def session_stamp(user: User) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, (user.password_hash or "").encode(), hashlib.sha256).hexdigest()[:16]


@login_manager.user_loader
def _load_account(session_id: str):
    user_id, _, stamp = session_id.partition(".")
    if not user_id.isdigit() or int(user_id) > 2**31 - 1:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not hmac.compare_digest(stamp, session_stamp(user)):
        return None
    account = Account(user)
    return account if account.is_active else None


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
    """A new session for the signed-in person: whatever the anonymous session held (its CSRF token
    included) is dropped, so a planted session cannot be carried over. The language is a cookie of its own."""
    session.clear()
    login_user(Account(user))
    session.permanent = True


def sign_out() -> None:
    logout_user()
    session.clear()


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


def _account_key() -> str:
    email = (request.form.get("email") or "").strip().lower()
    return f"account:{hashlib.sha256(email.encode()).hexdigest()[:32]}"


def _account_and_address_key() -> str:
    return f"{_account_key()}|{_address()}"


def _signed_in_key() -> str:
    return f"user:{current_user.get_id().partition('.')[0]}" if current_user.is_authenticated else _address()


def _failed(response) -> bool:
    return bool(g.get("auth_failed"))


def _limit(name):
    return lambda: current_app.config.get(name) or DEFAULT_LIMITS[name]


def _throttle(app, limiter, endpoint, rules):
    view = app.view_functions[endpoint]
    for name, key_func, deduct_when in rules:
        view = limiter.limit(_limit(name), key_func=key_func, methods=["POST"], deduct_when=deduct_when,
                             scope=f"{endpoint}:{name}")(view)
    app.view_functions[endpoint] = view


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
    _throttle(app, limiter, "auth.login", [
        ("LOGIN_LIMIT_PER_ADDRESS", _address, _failed),
        ("LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS", _account_and_address_key, _failed),
        ("LOGIN_LIMIT_PER_ACCOUNT", _account_key, _failed),
    ])
    _throttle(app, limiter, "auth.signup", [("SIGNUP_LIMIT_PER_ADDRESS", _address, None)])
    _throttle(app, limiter, "auth.password", [("PASSWORD_CHANGE_LIMIT_PER_ACCOUNT", _signed_in_key, _failed)])

    app.jinja_env.globals["staff_home"] = staff_home

    from portal.auth.routes import too_many_attempts

    app.register_error_handler(RateLimitExceeded, too_many_attempts)
