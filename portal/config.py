"""Configuration from the environment, with an embedded default that needs no services."""
import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from portal import sqlite_writes

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY_FILE = "secret_key"
# The YooKassa sandbox as the embedded default mounts it.
EMBEDDED_YOOKASSA = "http://127.0.0.1:8000/sandbox/yookassa"
# Provider calls in flight across every process when PROVIDER_CONCURRENCY is unset: under the sandbox's
# default limit (5) and any real terminal's we know of.
DEFAULT_PROVIDER_CONCURRENCY = 3


class ConfigurationError(RuntimeError):
    """The process cannot start on this configuration; the message names the variable to set."""


def _env(name, default=None):
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _hosts(setting: str | None) -> list[str] | None:
    hosts = [host.strip() for host in (setting or "").split(",") if host.strip()]
    return hosts or None


def from_environment():
    """Settings for this process. Without DATABASE_URL/REDIS_URL/AMQP_URL the portal runs embedded:
    SQLite under instance/, jobs in-process, outbox kept unrelayed, sandbox provider mounted in-process.
    Defaults for the provider and the secrets exist only there; a configured deployment (DATABASE_URL
    set) names every one of them, which `check` enforces at start."""
    database_url = _env("DATABASE_URL")
    embedded = database_url is None
    instance = Path(_env("PORTAL_INSTANCE", ROOT / "instance"))
    if embedded:
        instance.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{instance / 'portal.sqlite3'}"
    elif database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://"):]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]

    def embedded_default(name, value):
        return _env(name, value if embedded else None)

    return {
        "EMBEDDED": embedded,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": _env("REDIS_URL"),
        "AMQP_URL": _env("AMQP_URL"),
        # Embedded and unset: made on the first start and kept in the instance folder (`settle`).
        "SECRET_KEY": _env("SECRET_KEY"),
        "PORTAL_INSTANCE": str(instance),
        "TOKEN_ENCRYPTION_KEY": _env("TOKEN_ENCRYPTION_KEY"),
        # The sandbox's public credentials are for the embedded default, whose sandbox is in-process.
        "PAYMENT_PROVIDER": embedded_default("PAYMENT_PROVIDER", "sandbox"),
        # Several providers at once, the first the default of every currency staff have not chosen one for
        # (comma-separated: "cloudpayments,yookassa"); unset, PAYMENT_PROVIDER alone is enabled.
        "PAYMENT_PROVIDERS": embedded_default("PAYMENT_PROVIDERS", "sandbox,yookassa"),
        # YooKassa (portal/providers/yookassa.py). Embedded: its sandbox, mounted in-process, with the
        # sandbox's public test credentials; elsewhere the real service and credentials of your own.
        "YOOKASSA_SHOP_ID": embedded_default("YOOKASSA_SHOP_ID", "100500"),
        "YOOKASSA_SECRET_KEY": embedded_default("YOOKASSA_SECRET_KEY", "test_sandbox-secret"),
        "YOOKASSA_API_URL": _env("YOOKASSA_API_URL", EMBEDDED_YOOKASSA + "/v3" if embedded else
                                 "https://api.yookassa.ru/v3"),
        "YOOKASSA_WIDGET_URL": _env("YOOKASSA_WIDGET_URL", EMBEDDED_YOOKASSA + "/widget.js" if embedded else
                                    "https://yookassa.ru/checkout-widget/v1/checkout-widget.js"),
        # Where YooKassa's notifications may come from (CIDRs, comma-separated): its published ranges, or
        # this machine in the embedded default, whose sandbox posts from loopback.
        "YOOKASSA_TRUSTED_NETWORKS": embedded_default("YOOKASSA_TRUSTED_NETWORKS", "127.0.0.0/8,::1/128"),
        "CLOUDPAYMENTS_PUBLIC_ID": embedded_default("CLOUDPAYMENTS_PUBLIC_ID", "pk_sandbox"),
        "CLOUDPAYMENTS_API_SECRET": embedded_default("CLOUDPAYMENTS_API_SECRET", "sandbox-secret"),
        "CLOUDPAYMENTS_API_URL": _env("CLOUDPAYMENTS_API_URL", "https://api.cloudpayments.ru"),
        "CLOUDPAYMENTS_WIDGET_URL": _env(
            "CLOUDPAYMENTS_WIDGET_URL", "https://widget.cloudpayments.ru/bundles/cloudpayments.js"
        ),
        "SANDBOX_URL": embedded_default("SANDBOX_URL", "http://127.0.0.1:8000/sandbox/cloudpayments"),
        "MOUNT_SANDBOX": _env("MOUNT_SANDBOX", "1" if embedded else "0") == "1",
        "API_TOKENS": _env("API_TOKENS", ""),
        # Outgoing mail (portal/mail). Embedded and unset: mails are written under instance/mail/ and
        # listed at /dev/mail; a configured deployment must name its SMTP server and sender.
        "SMTP_URL": _env("SMTP_URL"),
        "MAIL_FROM": embedded_default("MAIL_FROM", "Cinema <billing@localhost>"),
        # Where the links in mails point (https://cinema.example). Embedded and unset: the address the
        # request came to; a configured deployment names it, so a forged Host header cannot point a
        # password-reset link at someone else's server.
        # Embedded: the address `make run` serves, so a mail built by a job (no request) links there too.
        "PUBLIC_URL": embedded_default("PUBLIC_URL", f"http://127.0.0.1:{_env('PORT', '8000')}"),
        # Who the billing mails say they are from and where questions go (the Reply-To); unset: the name
        # and address of MAIL_FROM.
        "SELLER_NAME": _env("SELLER_NAME"),
        "SUPPORT_EMAIL": _env("SUPPORT_EMAIL"),
        "PROXY_HOPS": int(_env("PROXY_HOPS", "0")),
        # The host names this portal answers to; any other Host header gets a 400 instead of being echoed
        # into redirects and links. Required once DATABASE_URL is set; the embedded default answers any.
        "TRUSTED_HOSTS": _hosts(_env("TRUSTED_HOSTS")),
        # Subscriptions a renewal job charges side by side (a thread each).
        "RENEWAL_BATCH": max(1, int(_env("RENEWAL_BATCH", "5"))),
        # The terminal's limit on API calls in flight, kept by all our processes together. Unset: a
        # conservative limit under the sandbox's default of 5, whatever the workers x RENEWAL_BATCH.
        "PROVIDER_CONCURRENCY": _env("PROVIDER_CONCURRENCY", DEFAULT_PROVIDER_CONCURRENCY),
        # /metrics answers scrapers on this machine; any other needs this bearer token (required once
        # DATABASE_URL is set). Logs: JSON lines unless LOG_FORMAT=text (the embedded default's).
        "METRICS_TOKEN": _env("METRICS_TOKEN"),
        "LOG_FORMAT": _env("LOG_FORMAT"),
        "LOG_LEVEL": _env("LOG_LEVEL", "INFO"),
        # How long before a price move applies the customer is told of it: the move takes effect at the first
        # renewal on or after this many days (portal/billing/prices.py).
        "PRICE_CHANGE_NOTICE_DAYS": max(0, int(_env("PRICE_CHANGE_NOTICE_DAYS", "30"))),
        "RQ_QUEUES": ["billing", "mail"],
        # Nothing this portal takes (forms, API bodies) comes near 1 MiB; werkzeug answers 413 before
        # reading a larger body. Notifications have a smaller limit of their own (portal/webhooks).
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        # SQL parameters never reach an error text or a log: a notification's values carry the card token.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
        "BABEL_DEFAULT_LOCALE": "ru",
        "LANGUAGES": ["ru", "en"],
    }


def _instance_secret_key(instance: Path) -> str:
    """The embedded default's session key: read from the instance folder, or made there once, mode
    0600. Written whole to a file of its own and then linked into place, so two processes starting
    together end up with the same key and a crash never leaves half of one."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / SECRET_KEY_FILE
    if not path.exists():
        fd, draft = tempfile.mkstemp(dir=instance, prefix=".secret_key.")  # mkstemp makes it 0600
        try:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_urlsafe(48) + "\n")
            os.link(draft, path)
        except FileExistsError:
            pass  # another process was first: its key it is
        finally:
            os.unlink(draft)
    key = path.read_text().strip()
    if not key:
        raise ConfigurationError(f"{path} is empty: delete it to have a new SECRET_KEY made")
    return key


# Per provider, the settings it cannot run without (beyond PAYMENT_PROVIDER itself).
PROVIDER_SETTINGS = {
    "cloudpayments": ("CLOUDPAYMENTS_PUBLIC_ID", "CLOUDPAYMENTS_API_SECRET"),
    "sandbox": ("CLOUDPAYMENTS_PUBLIC_ID", "CLOUDPAYMENTS_API_SECRET", "SANDBOX_URL"),
    "yookassa": ("YOOKASSA_SHOP_ID", "YOOKASSA_SECRET_KEY"),
}


def _enabled_providers(config) -> list[str]:
    listed = [n.strip().lower() for n in str(config.get("PAYMENT_PROVIDERS") or "").split(",") if n.strip()]
    return listed or [str(config["PAYMENT_PROVIDER"]).strip().lower()]


def settle(config) -> None:
    """Complete and check the app's final configuration (the environment's, with a test's overrides):
    the embedded default gets its instance's session key, a configured deployment must name its own;
    SQLite takes its writers one thread at a time."""
    if config.get("EMBEDDED") and not config.get("SECRET_KEY"):
        # A random key kept in the instance folder, so sessions survive a restart and nobody can forge
        # one from a constant in the repository.
        config["SECRET_KEY"] = _instance_secret_key(Path(config["PORTAL_INSTANCE"]))
    config["SQLALCHEMY_ENGINE_OPTIONS"] = sqlite_writes.engine_options(
        config["SQLALCHEMY_DATABASE_URI"], config["SQLALCHEMY_ENGINE_OPTIONS"])
    check(config)


def check(config) -> None:
    """Refuse to start a configured deployment that is missing a setting, rather than run it on a
    default anyone can read in this repository (a public notification secret, a known session key)."""
    def require(names, because):
        for name in names:
            value = config.get(name)
            if value is None or str(value).strip() == "":
                raise ConfigurationError(f"{name} must be set {because} (see README, configuration)")

    if not config.get("EMBEDDED"):
        require(("SECRET_KEY", "TRUSTED_HOSTS"), "when DATABASE_URL is")
        if not config.get("PAYMENT_PROVIDERS"):
            require(("PAYMENT_PROVIDER",), "when DATABASE_URL is")
        for provider in _enabled_providers(config):
            if provider not in PROVIDER_SETTINGS:
                raise ConfigurationError(f"PAYMENT_PROVIDER={provider!r} is not a known payment provider "
                                         f"(known: {', '.join(sorted(PROVIDER_SETTINGS))})")
            require(PROVIDER_SETTINGS[provider], f"when PAYMENT_PROVIDER={provider}")
        # Verification and password-reset links must reach people: no silent mail folder in production.
        require(("SMTP_URL", "MAIL_FROM", "PUBLIC_URL"), "when DATABASE_URL is")
        # /metrics names customers' volumes and the provider's failures: not for anyone who can reach the port.
        require(("METRICS_TOKEN",), "when DATABASE_URL is")
    config["PROVIDER_CONCURRENCY"] = _provider_concurrency(config.get("PROVIDER_CONCURRENCY"))
    public = config.get("PUBLIC_URL")
    if public and not (urlsplit(public).scheme in ("http", "https") and urlsplit(public).netloc):
        raise ConfigurationError(f"PUBLIC_URL must be the portal's address, like https://cinema.example "
                                 f"(got {public!r})")
    if config.get("SMTP_URL"):
        from portal.mail.transport import parse_smtp_url

        try:
            parse_smtp_url(config["SMTP_URL"])
        except ValueError as exc:
            raise ConfigurationError(f"SMTP_URL: {exc}") from None
    key = config.get("TOKEN_ENCRYPTION_KEY")
    if key:
        from cryptography.fernet import Fernet

        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ConfigurationError(
                "TOKEN_ENCRYPTION_KEY is not a Fernet key (32 url-safe base64-encoded bytes: "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
            ) from None


def _provider_concurrency(value) -> int:
    text = str(value if value not in (None, "") else DEFAULT_PROVIDER_CONCURRENCY).strip()
    if not text.isdigit() or int(text) < 1:
        raise ConfigurationError(f"PROVIDER_CONCURRENCY must be a whole number of calls, 1 or more (got {text!r}); "
                                 f"unset, it is {DEFAULT_PROVIDER_CONCURRENCY}")
    return int(text)
