"""Template helpers and languages: the visitor's locale (a sticking switch, else Accept-Language), Flask-Babel
translations from portal/translations, and money and dates formatted by Babel for that locale."""
from datetime import datetime
from functools import cache
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, available_timezones

from flask import redirect, request, url_for
from flask_babel import Babel, refresh
from werkzeug.urls import iri_to_uri

from portal.dates import MOSCOW, date_text, day_text, moment_text
from portal.money import format_money

SUPPORTED_LOCALES = ("ru", "en")
LOCALE_COOKIE = "locale"
LOCALE_COOKIE_AGE = 365 * 24 * 3600

# Times on the pages are in the reader's own zone (a customer's set by the platform's customer.upsert or their
# profile, a staff member's by theirs), else in Moscow's: the cinema's audience and the provider's day.
DEFAULT_TIME_ZONE = MOSCOW

babel = Babel()


def current_locale() -> str:
    """The one answer to "which language": every page, the catalogue included, and Flask-Babel ask here."""
    chosen = request.cookies.get(LOCALE_COOKIE) if request else None
    if chosen in SUPPORTED_LOCALES:
        return chosen
    best = request.accept_languages.best_match(SUPPORTED_LOCALES) if request else None
    return best or "ru"


def current_time_zone() -> str:
    """The zone Flask-Babel shows times in: the signed-in reader's, else Moscow's."""
    from flask_login import current_user

    user = getattr(current_user, "user", None) if request and current_user.is_authenticated else None
    zone = getattr(user, "time_zone", None)
    return zone if zone in _zones() else DEFAULT_TIME_ZONE


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def page_date(value) -> str:
    """A date in the page's language and the reader's zone (portal/dates.py: one style everywhere)."""
    return date_text(value, current_locale(), ZoneInfo(current_time_zone())) if value is not None else ""


def page_moment(value, seconds: bool = False) -> str:
    """A moment in the reader's zone, the zone named: a Moscow customer sees 00:53 мск, not 21:53 UTC."""
    if value is None:
        return ""
    if isinstance(value, str):  # as stored in JSON details
        value = datetime.fromisoformat(value)
    return moment_text(value, current_locale(), ZoneInfo(current_time_zone()), seconds=seconds)


def safe_next(target: str | None, default: str) -> str:
    """A same-site path to go back to; anything pointing elsewhere (//evil, https://evil) or that is no
    URL at all (control characters: a header split, CR LF Set-Cookie) falls back. Letters beyond ASCII
    are percent-encoded, as a Location header needs."""
    if not target or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return iri_to_uri(target)


def set_locale(code):
    """The language switch: remembered in a cookie, so it sticks over Accept-Language."""
    target = safe_next(request.args.get("next"), url_for("catalog.index"))
    response = redirect(target, code=303)
    if code in SUPPORTED_LOCALES:
        response.set_cookie(LOCALE_COOKIE, code, max_age=LOCALE_COOKIE_AGE, samesite="Lax", httponly=True,
                            secure=request.is_secure)
    response.headers["Vary"] = "Cookie"
    return response


def init_app(app):
    babel.init_app(app, locale_selector=current_locale, timezone_selector=current_time_zone)
    # Flask-Babel caches the locale on the app context, which outlives a request where one context serves
    # several (tests, CLI): every request asks afresh.
    app.before_request(refresh)
    app.add_url_rule("/locale/<code>", "set_locale", set_locale)
    # The status groups of portal/models/subscription.py, so pages name them rather than spell them out.
    from portal.models.subscription import ENDED_STATUSES, ENTITLED_STATUSES, LIVE_STATUSES

    app.jinja_env.globals.update(ENTITLED=ENTITLED_STATUSES, LIVE=LIVE_STATUSES, ENDED=ENDED_STATUSES)

    @app.context_processor
    def inject_locale():
        return {"locale": current_locale(), "supported_locales": SUPPORTED_LOCALES}

    @app.template_filter("money")
    def money_filter(amount, currency):
        return format_money(amount, currency, current_locale())

    # A plan's words in the page's language (staff pages too): the one way templates name a plan.
    @app.template_filter("plan_name")
    def plan_name_filter(plan):
        return plan.name_in(current_locale())

    @app.template_filter("plan_description")
    def plan_description_filter(plan):
        return plan.description_in(current_locale())

    app.add_template_filter(page_date, "date")
    app.add_template_filter(lambda day: day_text(day, current_locale()), "day")
    app.add_template_filter(page_moment, "datetime")
