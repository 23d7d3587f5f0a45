"""Python work per request on the two front doors (items 1 and 4 of bench/README.md) and /healthz.

    .venv/bin/python bench/profile_front_doors.py [--count 1000] [--top 25]

A database and a Redis database of its own (dropped and released at the end), `flask bench-data
--subscriptions 100 --open-invoices COUNT`, then COUNT requests of each kind through `app.test_client()`
(after 50 warm-up ones) under cProfile: GET /healthz, GET entitlement with a bearer token, signed Pay
notifications for distinct open invoices. Prints, per kind, Python function calls per request (which a
loaded machine does not change: comparable between two checkouts of the code), CPU and wall ms per
request, and the functions that took the most time. Not part of `make bench`."""
import argparse
import cProfile
import io
import os
import pstats
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run as bench  # noqa: E402  (the harness: services, form, signature, the sandbox secret)
from run import isolation  # noqa: E402

TOKEN = "profile-" + secrets.token_hex(8)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    name = f"bench_profile_{secrets.token_hex(4)}"
    owner = f"bench-profile-{name}"
    with psycopg.connect(bench.PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    redis_url = isolation.claim_redis_database(bench.REDIS_SERVER, owner, seconds=1800)
    try:
        os.environ.update({"DATABASE_URL": bench.PG.rsplit("/", 1)[0] + "/" + name, "REDIS_URL": redis_url,
                           "SECRET_KEY": secrets.token_hex(16), "PAYMENT_PROVIDER": "sandbox",
                           "CLOUDPAYMENTS_PUBLIC_ID": bench.PUBLIC_ID, "CLOUDPAYMENTS_API_SECRET": bench.SECRET,
                           "SMTP_URL": "smtp://127.0.0.1:9", "MAIL_FROM": "Bench <bench@localhost>",
                           "PUBLIC_URL": "http://127.0.0.1", "METRICS_TOKEN": secrets.token_hex(12),
                           "API_TOKENS": f"bench:{TOKEN}:read+write", "TRUSTED_HOSTS": "127.0.0.1,localhost",
                           "SESSION_COOKIE_SECURE": "0", "SANDBOX_URL": "http://127.0.0.1:9"})
        profile(args)
    finally:
        isolation.release_redis_database(redis_url, owner, empty=True)
        with psycopg.connect(bench.PG, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def profile(args):
    from flask_migrate import upgrade
    from sqlalchemy import text

    from portal import create_app
    from portal.bench_data import bench_data
    from portal.extensions import db

    app = create_app()
    with app.app_context():
        upgrade()
        app.test_cli_runner().invoke(bench_data, ["--subscriptions", "100", "--open-invoices", str(args.count + 60)])
        invoices = db.session.execute(text(
            "SELECT i.id, i.amount, u.external_id, u.email FROM invoices i JOIN users u ON u.id = i.customer_id "
            "WHERE i.status = 'open' ORDER BY i.id")).all()
        db.session.remove()
    client = app.test_client()
    bodies = [bench.form({
        "TransactionId": 800000 + n, "Amount": f"{amount / 100:.2f}", "Currency": "RUB",
        "PaymentAmount": f"{amount / 100:.2f}", "PaymentCurrency": "RUB",
        "DateTime": f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}", "CardFirstSix": "400000", "CardLastFour": "3055",
        "CardType": "Visa", "CardExpDate": "12/30", "TestMode": "1", "Status": "Completed",
        "OperationType": "Payment", "GatewayName": "Test", "InvoiceId": invoice_id, "AccountId": external_id,
        "Email": email, "Description": "Bench monthly", "Token": f"tk_bench_{invoice_id}", "Data": ""})
        for n, (invoice_id, amount, external_id, email) in enumerate(invoices)]

    def healthz(i):
        assert client.get("/healthz").status_code == 200

    def entitlement(i):
        response = client.get(f"/api/v1/customers/bench-{1 + i % 100}/entitlement",
                              headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.data

    unsent = iter(bodies)

    def ingest(i):
        body = next(unsent)  # each for an invoice of its own, never notified before
        response = client.post("/webhooks/cloudpayments/pay", data=body, headers={
            "Content-HMAC": bench.signature(body), "Content-Type": "application/x-www-form-urlencoded"})
        assert response.status_code == 200 and response.get_json() == {"code": 0}, response.data

    for label, request in (("healthz", healthz), ("entitlement", entitlement), ("ingest", ingest)):
        for i in range(50):
            request(i)
        profiler = cProfile.Profile()
        wall, cpu = time.perf_counter(), time.process_time()
        profiler.enable()
        for i in range(args.count):
            request(i)
        profiler.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        stats = pstats.Stats(profiler, stream=io.StringIO())
        print(f"== {label}: {stats.total_calls / args.count:,.0f} calls, {1000 * cpu / args.count:.2f} ms CPU, "
              f"{1000 * wall / args.count:.2f} ms wall per request")
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("PROFILE_SORT", "tottime")).print_stats(args.top)
        print(out.getvalue().split("\n", 4)[-1])


if __name__ == "__main__":
    main()
