"""Billing portal for the online cinema: the Flask application factory."""
from pathlib import Path

from flask import Flask

from portal import config
from portal.extensions import db, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config=None):
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_mapping(config.from_environment())
    if test_config:
        app.config.update(test_config)
    config.settle(app.config)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)

    from portal import models  # noqa: F401  (registers the tables with the metadata)
    from portal.account import bp as account_bp
    from portal.admin import bp as admin_bp
    from portal.api import bp as api_bp
    from portal.auth import bp as auth_bp
    from portal.catalog import bp as catalog_bp
    from portal.health import bp as health_bp
    from portal.security import init_app as init_security
    from portal.webhooks import bp as webhooks_bp

    # CSRF, security headers, cookie flags and HTML error pages; before the blueprints, whose own
    # error handlers (the JSON API's) chain onto these.
    init_security(app)

    app.register_blueprint(catalog_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(admin_bp)

    from portal import auth, cli, mail, ops, templating

    ops.init_app(app)
    cli.init_app(app)
    mail.init_app(app)
    templating.init_app(app)
    auth.init_app(app)
    if app.config["EMBEDDED"]:
        from portal import embedded

        embedded.init_app(app)
    return app
