"""Configuration from the environment, with an embedded default that needs no services."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env(name, default=None):
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def from_environment():
    """Settings for this process. Without DATABASE_URL/REDIS_URL/AMQP_URL the portal runs embedded:
    SQLite under instance/, jobs in-process, outbox kept unrelayed, sandbox provider mounted in-process."""
    database_url = _env("DATABASE_URL")
    embedded = database_url is None
    if embedded:
        instance = Path(_env("PORTAL_INSTANCE", ROOT / "instance"))
        instance.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{instance / 'portal.sqlite3'}"
    elif database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://"):]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]

    return {
        "EMBEDDED": embedded,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": _env("REDIS_URL"),
        "AMQP_URL": _env("AMQP_URL"),
        # Embedded default only: a fixed development key so `make run` works on a fresh machine.
        # Any configured deployment (DATABASE_URL set) must provide its own.
        "SECRET_KEY": _env("SECRET_KEY", "embedded-development-key" if embedded else None),
        "TOKEN_ENCRYPTION_KEY": _env("TOKEN_ENCRYPTION_KEY"),
        "PAYMENT_PROVIDER": _env("PAYMENT_PROVIDER", "sandbox"),
        "CLOUDPAYMENTS_PUBLIC_ID": _env("CLOUDPAYMENTS_PUBLIC_ID", "pk_sandbox"),
        "CLOUDPAYMENTS_API_SECRET": _env("CLOUDPAYMENTS_API_SECRET", "sandbox-secret"),
        "CLOUDPAYMENTS_API_URL": _env("CLOUDPAYMENTS_API_URL", "https://api.cloudpayments.ru"),
        "CLOUDPAYMENTS_WIDGET_URL": _env(
            "CLOUDPAYMENTS_WIDGET_URL", "https://widget.cloudpayments.ru/bundles/cloudpayments.js"
        ),
        "SANDBOX_URL": _env("SANDBOX_URL", "http://127.0.0.1:8000/sandbox/cloudpayments"),
        "MOUNT_SANDBOX": _env("MOUNT_SANDBOX", "1" if embedded else "0") == "1",
        "API_TOKENS": _env("API_TOKENS", ""),
        "PROXY_HOPS": int(_env("PROXY_HOPS", "0")),
        # Subscriptions a renewal job charges side by side (a thread each).
        "RENEWAL_BATCH": max(1, int(_env("RENEWAL_BATCH", "5"))),
        # The terminal's limit on API calls in flight, kept by all our processes together (unset: no
        # limit of ours; then worker processes x RENEWAL_BATCH must stay under the terminal's).
        "PROVIDER_CONCURRENCY": int(_env("PROVIDER_CONCURRENCY", "0")) or None,
        "RQ_QUEUES": ["billing"],
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "BABEL_DEFAULT_LOCALE": "ru",
        "LANGUAGES": ["ru", "en"],
    }
