"""Run the sandboxes on their own: `python -m portal.sandbox --host 127.0.0.1 --port 8001`.

CloudPayments answers at the root, YooKassa under /yookassa (its API at /yookassa/v3)."""

from __future__ import annotations

import argparse

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import run_simple

from . import create_app
from .yookassa import create_app as create_yookassa_app

YOOKASSA_PREFIX = "/yookassa"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m portal.sandbox", description=__doc__)
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
