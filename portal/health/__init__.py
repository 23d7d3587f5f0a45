"""Liveness and readiness probes for the process manager and load balancer."""
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from portal.extensions import db
from portal.proxies import unconfigured_proxy_warning

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


def _check_database():
    db.session.execute(text("SELECT 1"))


def _check_redis():
    import redis

    redis.Redis.from_url(current_app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=2).ping()


def _check_rabbitmq():
    import pika

    params = pika.URLParameters(current_app.config["AMQP_URL"])
    params.socket_timeout = 2
    params.blocked_connection_timeout = 2
    params.connection_attempts = 1
    pika.BlockingConnection(params).close()


@bp.get("/readyz")
def readyz():
    """Each configured dependency checked; 503 when one is down, saying which."""
    checks = {"database": _check_database}
    if current_app.config.get("REDIS_URL"):
        checks["redis"] = _check_redis
    if current_app.config.get("AMQP_URL"):
        checks["rabbitmq"] = _check_rabbitmq
    results, ready = {}, True
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # a probe reports every failure as data, never as a 500
            results[name] = f"down: {type(exc).__name__}"
            ready = False
            if name == "database":
                db.session.rollback()
    body = {"status": "ready" if ready else "not ready", "checks": results}
    warning = unconfigured_proxy_warning()
    if warning:
        # Not a readiness failure either: the portal works, but its limits see one client.
        body["warnings"] = [warning]
    if results["database"] == "ok" and current_app.config.get("AMQP_URL"):
        from portal.bus.relay import outbox_backlog

        # Not a readiness failure: RabbitMQ being away only delays events; shown so operators see it grow.
        body["outbox"] = outbox_backlog()
    return jsonify(body), (200 if ready else 503)
