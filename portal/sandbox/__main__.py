"""Run the sandboxes on their own: `python -m portal.sandbox --host 127.0.0.1 --port 8001`.

CloudPayments answers at the root, YooKassa under /yookassa (its API at /yookassa/v3)."""

from __future__ import annotations

import argparse

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import run_simple

from . import create_app
from .yookassa import create_app as create_yookassa_app

YOOKASSA_PREFIX = "/yookassa"


_ENVIRONMENT = """environment (CloudPayments):
  CLOUDPAYMENTS_PUBLIC_ID, CLOUDPAYMENTS_API_SECRET
        the terminal's credentials: the portal must be started with the same two (the sandbox checks its
        Basic auth with them and signs its notifications with the secret); defaults pk_sandbox and
        sandbox-secret are for development only
  SANDBOX_MERCHANT_URL
        the portal's address, where notifications go (default http://127.0.0.1:8000; --merchant-url wins)
  SANDBOX_CONCURRENCY_LIMIT
        calls in flight before a 429 (default 5); keep the portal's PROVIDER_CONCURRENCY at or under it
  SANDBOX_NOTIFY_SCHEDULE, SANDBOX_NOTIFY_TIMEOUT, SANDBOX_NOTIFY_MAX_ATTEMPTS, SANDBOX_LATENCY_MS,
  SANDBOX_TIMEOUT_SECONDS, SANDBOX_CONTROL_FROM_ANYWHERE
        delivery retries, latency and fault timing, who may use the controls (portal/sandbox/README.md)
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m portal.sandbox", description=__doc__, epilog=_ENVIRONMENT,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--merchant-url", help="overrides SANDBOX_MERCHANT_URL")
    parser.add_argument("--control-from-anywhere", action="store_true",
                        help="answer the delivery log, transactions and controls to non-loopback clients too")
    args = parser.parse_args(argv)
    config = {"SANDBOX_MERCHANT_URL": args.merchant_url} if args.merchant_url else {}
    if args.control_from_anywhere:
        config["SANDBOX_CONTROL_FROM_ANYWHERE"] = "1"
    both = DispatcherMiddleware(create_app(config), {YOOKASSA_PREFIX: create_yookassa_app(config)})
    # Threaded: the provider must take many calls at once (and refuse the excess with 429 itself).
    run_simple(args.host, args.port, both, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
