"""Browser-facing protections: CSRF tokens, security headers with the Content-Security-Policy, session cookie
flags, and the HTML error pages. The JSON API and the provider webhooks authenticate otherwise (bearer
tokens, signatures) and are left out of CSRF and of the HTML error pages."""
import hmac
import json
import os
import secrets
from urllib.parse import urlsplit

from flask import current_app, g, render_template, request, session
from flask.sessions import NullSession, SecureCookieSessionInterface
from werkzeug.exceptions import BadRequest, HTTPException, SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix

from portal.proxies import note_forwarded_request

CSRF_SESSION_KEY = "csrf_token"
CSRF_FORM_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Machine-to-machine paths: the JSON API (bearer tokens) and provider notifications (signed bodies).
NON_BROWSER_PREFIXES = ("/api/", "/webhooks/")


class CSRFError(BadRequest):
    description = "The form was not sent from this site or has expired. Reload the page and try again."


def session_cookie_secure(config, environ=os.environ) -> bool:
    """Secure cookies unless told otherwise; the embedded demo and tests run on plain http."""
    value = environ.get("SESSION_COOKIE_SECURE")
    if value not in (None, ""):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return not (config.get("EMBEDDED") or config.get("TESTING"))


def csrf_token() -> str:
    """This session's token, made on first use. A new session (sign in, sign out) gets a new one."""
    token = session.get(CSRF_SESSION_KEY)
    if not token:
        token = session[CSRF_SESSION_KEY] = secrets.token_urlsafe(32)
    return token


def is_browser_path(path: str) -> bool:
    return not path.startswith(NON_BROWSER_PREFIXES)


class NoSession(NullSession):
    """What a machine-to-machine request has instead of a session: reads find nothing, writes are a bug."""

    def _fail(self, *args, **kwargs):
        raise RuntimeError("the JSON API and provider notifications have no session: they authenticate each "
                           "request by itself")

    __setitem__ = __delitem__ = clear = pop = popitem = update = setdefault = _fail


class BrowserSessionInterface(SecureCookieSessionInterface):
    """Signed-cookie sessions on the browser paths only. The JSON API and provider notifications
    authenticate every request by itself (bearer token, signature): their requests get an empty,
    read-only session, so no cookie is unsigned or re-signed on the two hottest paths."""

    null_session_class = NoSession

    def open_session(self, app, request):
        if not is_browser_path(request.path):
            return self.null_session_class()
        return super().open_session(app, request)


def _forget_previous_request():
    # g belongs to the app context, which outlives a request where one context serves several (tests, CLI
    # scripts): what a request decided about its own response must not leak into the next.
    for key in ("widget_origin", "auth_failed", "_login_user"):
        g.pop(key, None)


def _refuse_untrusted_host():
    # A Host outside TRUSTED_HOSTS leaves the request without URLs to build; answered before any other
    # check (CSRF, throttles), whose answers would render pages with links.
    if isinstance(request.routing_exception, SecurityError):
        raise request.routing_exception


def untrusted_host(exc: SecurityError):
    """No page, no redirect, no echo of the Host: a plain 400 (a problem document under /api/)."""
    detail = "This site is not served under the host name the request was sent to."
    if is_browser_path(request.path):
        return detail + "\n", 400, {"Content-Type": "text/plain; charset=utf-8"}
    body = {"type": "about:blank", "title": "Bad Request", "status": 400, "detail": detail}
    return json.dumps(body), 400, {"Content-Type": "application/problem+json"}


def _check_csrf():
    if request.method not in UNSAFE_METHODS or not is_browser_path(request.path):
        return
    if request.endpoint in current_app.extensions.get("csrf_exempt_endpoints", ()):
        return
    expected = session.get(CSRF_SESSION_KEY)
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FORM_FIELD)
    if not expected or not sent or not hmac.compare_digest(str(expected), str(sent)):
        raise CSRFError()


def csrf_exempt(app, endpoint: str) -> None:
    """For a browser path that authenticates some other way (none does yet)."""
    app.extensions.setdefault("csrf_exempt_endpoints", set()).add(endpoint)


def embeds_widget(script_url: str) -> None:
    """Called by a view whose page loads the payment provider's widget: its origin joins this response's CSP."""
    g.widget_origin = origin_of(script_url)


def origin_of(url: str) -> str | None:
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(widget_origin: str | None = None) -> str:
    """Scripts, styles, fetches only from this site; the widget's origin added on pages that embed it
    (its script, its API calls, its dialog frame and card-brand images). No inline scripts, no eval."""
    extra = f" {widget_origin}" if widget_origin else ""
    directives = {
        "default-src": "'self'",
        "script-src": "'self'" + extra,
        "style-src": "'self'" + extra,
        "img-src": "'self' data:" + extra,
        "connect-src": "'self'" + extra,
        "frame-src": ("'self'" + extra) if widget_origin else "'none'",
        "font-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _is_https() -> bool:
    return request.is_secure or current_app.config.get("PREFERRED_URL_SCHEME") == "https"


def _security_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if _is_https():
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = content_security_policy(g.get("widget_origin"))
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.path.startswith("/api/"):
        # A service's view of customers' billing; the entitlement answer sets its own brief reuse of a grant.
        response.headers.setdefault("Cache-Control", "no-store")
    elif session.get("_user_id") and request.endpoint != "static":
        # Someone's billing data (pages, fragments, CSV exports): never stored by a shared cache or the
        # browser's back-forward cache.
        response.headers["Cache-Control"] = "no-store"
    return response


def error_page(exc: HTTPException):
    if not is_browser_path(request.path):
        return exc
    from flask_babel import gettext as _

    messages = {
        400: _("The request could not be understood."),
        403: _("You cannot do that."),
        404: _("There is nothing here. It may have moved, or the address may be mistyped."),
        405: _("That is not something this page does."),
        413: _("That is more than this site accepts in one request."),
        429: _("Too many attempts. Wait a few minutes and try again."),
    }
    message = messages.get(exc.code, _("Something went wrong on our side. Please try again in a minute."))
    if isinstance(exc, CSRFError):
        message = _("The form was not sent from this site or has expired. Reload the page and try again.")
    template = "errors/_error.html" if request.headers.get("HX-Request") else "errors/error.html"
    return render_template(template, code=exc.code, message=message), exc.code


def init_app(app):
    """Call before registering blueprints: the JSON API chains its own 404/405 handlers onto these."""
    app.config["SESSION_COOKIE_SECURE"] = session_cookie_secure(app.config)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["REMEMBER_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"]
    app.config["REMEMBER_COOKIE_HTTPONLY"] = True
    app.config["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    app.session_interface = BrowserSessionInterface()

    hops = app.config.get("PROXY_HOPS", 0)
    if hops:
        # Behind a load balancer: the client's address (rate limits, audit) and https (cookies, HSTS)
        # come from the X-Forwarded-* headers that exactly this many trusted proxies set.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    app.before_request(_refuse_untrusted_host)
    app.before_request(note_forwarded_request)
    app.before_request(_forget_previous_request)
    app.before_request(_check_csrf)
    app.after_request(_security_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
    for code in (400, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(code, error_page)
    app.register_error_handler(CSRFError, error_page)
    app.register_error_handler(SecurityError, untrusted_host)
