"""The embedded default's extras: the sandbox providers mounted in-process and the cron ticks on a thread."""
import logging
import threading
import time

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.utils import import_string

log = logging.getLogger(__name__)
SANDBOX_PREFIX = "/sandbox/cloudpayments"
YOOKASSA_SANDBOX_PREFIX = "/sandbox/yookassa"


def init_app(app):
    if app.config.get("MOUNT_SANDBOX"):
        from portal.sandbox import create_app as create_sandbox
        from portal.sandbox.yookassa import create_app as create_yookassa_sandbox

        merchant_url = app.config["SANDBOX_URL"].rsplit(SANDBOX_PREFIX, 1)[0]
        sandbox = create_sandbox({
            "CLOUDPAYMENTS_PUBLIC_ID": app.config["CLOUDPAYMENTS_PUBLIC_ID"],
            "CLOUDPAYMENTS_API_SECRET": app.config["CLOUDPAYMENTS_API_SECRET"],
            "SANDBOX_MERCHANT_URL": merchant_url,
            # In the portal its controls stay loopback-only, whatever the environment says.
            "SANDBOX_CONTROL_FROM_ANYWHERE": "0",
        })
        # The shop id and secret the portal is configured with (None: the env var, else the sandbox's default).
        yookassa = create_yookassa_sandbox({
            "YOOKASSA_SHOP_ID": app.config.get("YOOKASSA_SHOP_ID"),
            "YOOKASSA_SECRET_KEY": app.config.get("YOOKASSA_SECRET_KEY"),
            "SANDBOX_MERCHANT_URL": merchant_url,
            "SANDBOX_CONTROL_FROM_ANYWHERE": "0",
        })
        hops = app.config.get("PROXY_HOPS", 0)
        for mounted in (sandbox, yookassa):
            if hops:
                # Behind a proxy every request comes from the proxy: the client is in X-Forwarded-For.
                mounted.wsgi_app = ProxyFix(mounted.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
        app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {SANDBOX_PREFIX: sandbox,
                                                           YOOKASSA_SANDBOX_PREFIX: yookassa})

    if app.config.get("EMBEDDED_CRON", True) and not app.testing:
        started = threading.Event()

        @app.before_request
        def start_ticks_once():
            # Started by the first request, not at import: CLI commands (db upgrade, seed) need no ticks.
            if not started.is_set():
                started.set()
                threading.Thread(target=_tick_forever, args=(app,), name="embedded-cron", daemon=True).start()


def _tick_forever(app):
    schedule = import_string("workers.ticks.SCHEDULE")
    last_run = {name: 0.0 for name, _, _ in schedule}
    while True:
        now = time.monotonic()
        for name, tick, seconds in schedule:
            if now - last_run[name] >= seconds:
                last_run[name] = now
                with app.app_context():
                    try:
                        tick()
                    except Exception:
                        log.exception("embedded tick %s failed", name)
        time.sleep(5)
