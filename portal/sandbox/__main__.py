"""Run the sandbox on its own: `python -m portal.sandbox --host 127.0.0.1 --port 8001`."""

from __future__ import annotations

import argparse

from werkzeug.serving import run_simple

from . import create_app


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
    # Threaded: the provider must take many calls at once (and refuse the excess with 429 itself).
    run_simple(args.host, args.port, create_app(config), threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
