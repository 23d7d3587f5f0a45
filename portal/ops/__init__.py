"""Operating the portal: JSON logs with a request id carried into jobs, Prometheus metrics at /metrics,
and test clocks (sandbox mode only). `init_app` wires them into the application."""
import hmac
import ipaddress
import logging

from flask import Flask, g, request

log = logging.getLogger("portal.request")


def init_app(app: Flask) -> None:
    from portal.ops import context, logs, metrics, test_clock
    from portal.ops.routes import admin_bp, api_bp, metrics_bp

    logs.configure(app.config)
    app.register_blueprint(metrics_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(api_bp)

    @app.before_request
    def _start_request():
        context.start(request_id=context.new_request_id(request.headers.get("X-Request-ID")))
        g.request_timer = metrics.timer()

    @app.after_request
    def _finish_request(response):
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        seconds = metrics.timer_seconds(g.pop("request_timer", None))
        metrics.http_request(request.method, route, response.status_code, seconds, request.view_args)
        response.headers["X-Request-ID"] = context.request_id() or ""
        if route != "/metrics":
            # The path only: a GET notification's query string holds its fields, the card token among them.
            log.info("%s %s %s", request.method, request.path, response.status_code,
                     extra={"route": route, "status": response.status_code, "duration_ms": round(seconds * 1000, 1)})
        return response

    _watch_inbox_status()

    @app.context_processor
    def _test_clocks():
        return {"test_clocks_enabled": test_clock.sandbox_mode(app.config)}


def _watch_inbox_status() -> None:
    from sqlalchemy import event

    from portal.models import WebhookEvent
    from portal.ops import metrics

    if not event.contains(WebhookEvent.status, "set", metrics.inbox_status_changed_event):
        event.listen(WebhookEvent.status, "set", metrics.inbox_status_changed_event)


def row_locked(row) -> None:
    """portal/machines.lock: the rest of this job runs at the row's customer's time, its log lines name it."""
    from portal.ops import context, test_clock

    context.bind_row(row)
    test_clock.follow(row)


def rows_locked(rows) -> None:
    """As `row_locked`, for rows locked together: only when they are one customer's (a renewal group of
    many customers keeps the process's time; a customer with a test clock has a group of its own)."""
    if len({getattr(row, "customer_id", None) for row in rows}) == 1:
        row_locked(rows[0])


def metrics_allowed(config) -> bool:
    """/metrics: a scraper on this machine (no proxy in between), or anyone with METRICS_TOKEN as bearer."""
    token = config.get("METRICS_TOKEN")
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
