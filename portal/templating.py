"""Template helpers: the visitor's locale and money formatted for it."""
from flask import request

from portal.money import format_money

SUPPORTED_LOCALES = ("ru", "en")


def current_locale() -> str:
    chosen = request.cookies.get("locale") if request else None
    if chosen in SUPPORTED_LOCALES:
        return chosen
    best = request.accept_languages.best_match(SUPPORTED_LOCALES) if request else None
    return best or "ru"


def init_app(app):
    @app.context_processor
    def inject_locale():
        return {"locale": current_locale()}

    @app.template_filter("money")
    def money_filter(amount, currency):
        return format_money(amount, currency, current_locale())
