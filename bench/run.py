"""`make bench`: the billing portal's benchmarks against the production topology (see bench/README.md).

Own PostgreSQL database and Redis database, gunicorn, RQ worker processes, the RabbitMQ bridge and the
CloudPayments sandbox as separate processes, load from wrk. Prints one table and writes it as JSON
under bench/results/. Every figure is a ratio against a baseline measured in the same run."""
import argparse
import base64
import hashlib
import hmac
import http.client
import json
import math
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote_plus

import psycopg
import requests
from redis import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests import isolation  # noqa: E402, I001  (claims shared with the test suite: never another's Redis data)
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_SERVER = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379")
AMQP_BASE = os.environ.get("BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672")
SECRET = "bench-sandbox-secret"
PUBLIC_ID = "pk_bench"
API_TOKEN = secrets.token_hex(16)
SUCCESS_CARD = "4000 0000 0000 3055"  # token charges succeed
DECLINING_CARD = "4111 1111 1111 1111"  # token charges: insufficient funds
LUA = ROOT / "bench" / "lua"
# Issue 21's targets for the two front doors (items 1 and 4), as ratios to /healthz.
INGEST_TARGET, ENTITLEMENT_TARGET = 0.50, 0.85
TRANSITIONS_TARGET = 0.30  # item 2, of INSERT+COMMIT (issue 21; was 0.15)
IN_FLIGHT_TARGET, WALL_TIME_TARGET = 0.9, 1.2  # item 3, of the 30 slots and of the physical limit
ACTIVE_P50_MS, ACTIVE_P99_MS = 100, 1000  # item 7, time to active
UNDER_LOAD_TARGET, CUSTOMERS_AT_ONCE = 5, 50  # item 8, account page p99 at 50 customers / p50 at one


def log(message):
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


# ---------------------------------------------------------------- processes and services


class Topology:
    """The processes of the Procfile, each its own OS process, stopped (by pid) at the end."""

    def __init__(self, args):
        self.args = args
        self.run_id = uuid.uuid4().hex[:8]
        self.owner = f"bench-{self.run_id}"
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench-{self.run_id}-"))
        self.db_name = f"bench_{self.run_id}"
        self.vhost = None
        self.redis_url = None
        self.procs = {}
        self.web_port, self.sandbox_port, self.smtp_port = _free_port(), _free_port(), _free_port()
        self.web = f"http://127.0.0.1:{self.web_port}"
        self.sandbox = f"http://127.0.0.1:{self.sandbox_port}"

    # services
    def prepare(self):
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        self.db_url = PG.rsplit("/", 1)[0] + "/" + self.db_name
        try:
            self.redis_url = isolation.claim_redis_database(REDIS_SERVER, self.owner, seconds=3600)
        except RuntimeError as error:
            raise SystemExit(f"{error}; try again later") from None
        self.amqp_url = self._vhost()
        self.env = {**os.environ, "DATABASE_URL": self.db_url, "REDIS_URL": self.redis_url,
                    "AMQP_URL": self.amqp_url or "", "SECRET_KEY": "bench-" + secrets.token_hex(8),
                    "PAYMENT_PROVIDER": "sandbox", "SANDBOX_URL": self.sandbox,
                    "CLOUDPAYMENTS_PUBLIC_ID": PUBLIC_ID, "CLOUDPAYMENTS_API_SECRET": SECRET,
                    # Every payment's receipt is mailed, as in production: to an SMTP server of the bench's
                    # own that accepts and discards (start_mail_sink), so no mail is tried again later.
                    "SMTP_URL": f"smtp://127.0.0.1:{self.smtp_port}", "MAIL_FROM": "Bench <bench@localhost>",
                    "PUBLIC_URL": self.web,
                    "METRICS_TOKEN": "bench-" + secrets.token_hex(8),
                    "API_TOKENS": f"bench:{API_TOKEN}:read+write", "TRUSTED_HOSTS": "127.0.0.1,localhost",
                    "FLASK_APP": "wsgi", "SESSION_COOKIE_SECURE": "0",
                    "SANDBOX_MERCHANT_URL": self.web, "SANDBOX_NOTIFY_SCHEDULE": "1,2,5",
                    "PYTHONUNBUFFERED": "1"}
        self.flask("db", "upgrade")

    def _vhost(self):
        """A RabbitMQ vhost of our own, so the bridge's events never reach anyone else's queues."""
        name = f"bench_{self.run_id}"
        url = isolation.add_vhost(f"{AMQP_BASE}/%2F", name)
        if url is None:
            log("no RabbitMQ vhost of our own (rabbitmqctl absent or refused): running without the bridge")
            return None
        self.vhost = name
        return url

    def flask(self, *argv, check=True):
        done = subprocess.run([str(BIN / "flask"), *argv], cwd=ROOT, env=self.env, capture_output=True, text=True)
        if check and done.returncode != 0:
            raise RuntimeError(f"flask {' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self, name, argv, env=None):
        out = open(self.tmp / f"{name}.log", "w")
        self.procs[name] = subprocess.Popen(argv, cwd=ROOT, env={**self.env, **(env or {})}, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        return self.procs[name]

    def stop(self, name, sig=signal.SIGTERM, wait=20):
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, sig)  # its own session: gunicorn's workers go with their arbiter
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def start_web(self):
        # The Procfile's settings (portal/web_server.py), bound to loopback.
        workers = ["-w", str(self.args.web_workers)] if self.args.web_workers else []
        self.start("web", [str(BIN / "gunicorn"), "--config", "python:portal.web_server", *workers,
                           "-b", f"127.0.0.1:{self.web_port}", "--log-level", "warning", "wsgi:app"])
        _wait_http(f"{self.web}/healthz")

    def start_sandbox(self):
        self.start("sandbox", [str(BIN / "python"), "-m", "portal.sandbox", "--port", str(self.sandbox_port),
                               "--merchant-url", self.web])
        _wait_http(f"{self.sandbox}/")

    def start_mail_sink(self):
        self.start("smtp", [str(BIN / "python"), "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
                            "-l", f"127.0.0.1:{self.smtp_port}"])
        _wait_port(self.smtp_port)

    def start_bridge(self):
        if self.amqp_url:
            self.start("bridge", [str(BIN / "flask"), "bus", "run"])

    def start_workers(self, count, prefix="worker", with_scheduler=True):
        names = []
        for i in range(count):
            argv = [str(BIN / "rq"), "worker", "--url", self.redis_url, "-w", "workers.worker.BillingWorker",
                    "--logging_level", "WARNING", "--name", f"{prefix}-{self.run_id}-{i}", "billing", "mail"]
            if with_scheduler and i == 0:
                argv.insert(2, "--with-scheduler")
            self.start(f"{prefix}-{i}", argv)
            names.append(f"{prefix}-{self.run_id}-{i}")
        redis = Redis.from_url(self.redis_url)
        deadline = time.time() + 120
        while time.time() < deadline:
            from rq import Worker
            up = {w.name for w in Worker.all(connection=redis)}
            if all(n in up for n in names):
                return names
            time.sleep(0.3)
        raise RuntimeError(f"workers did not all register; see {self.tmp}")

    def stop_workers(self, prefix="worker"):
        for name in [n for n in self.procs if n.startswith(prefix + "-")]:
            self.stop(name)

    def cleanup(self):
        for name in list(self.procs):
            self.stop(name)
        if not self.args.keep:
            with psycopg.connect(PG, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            if self.vhost:
                isolation.delete_vhost(self.vhost)
            shutil.rmtree(self.tmp, ignore_errors=True)
        if self.redis_url:
            isolation.release_redis_database(self.redis_url, self.owner, empty=True)

    def sql(self, query, params=None):
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description is not None else []


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port, seconds=30):
    import socket

    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds}s")


def _wait_http(url, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds}s")


# ---------------------------------------------------------------- load


def wrk(url, *, seconds, connections=16, threads=2, script=None, script_args=(), headers=(), latency=False):
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    for header in headers:
        argv += ["-H", header]
    if latency:
        argv.append("--latency")
    if script:
        argv += ["-s", str(script)]
    argv.append(url)
    if script_args:
        argv += ["--", *map(str, script_args)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    result = {"rate": rate, "requests": total, "non_2xx": int(bad.group(1)) if bad else 0,
              "socket_errors": errors.group(1) if errors else None, "raw": out}
    if latency:
        m = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", out)
        result["p50_ms"] = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    return result


def median(values):
    return statistics.median(values) if values else None


def percentile(values, q):
    """Nearest rank; a value never reached counts as math.inf (so a missing answer fails its tail)."""
    ranked = sorted(values)
    return ranked[max(0, math.ceil(q * len(ranked)) - 1)] if ranked else None


def paced(port, schedules):
    """An open load, as arrivals are: each schedule (one thread, one connection) sends its requests at
    their due times whatever the answers before them took, and a request is timed from its due time, so
    a slow answer shows in every request it delays (no coordinated omission, unlike wrk's closed loop).
    schedules: lists of (due on time.monotonic(), method, path, headers, body).
    Returns (due, sent, answered, status) per request, status None when the connection failed."""
    results = []

    def send(schedule):
        conn, mine = http.client.HTTPConnection("127.0.0.1", port, timeout=30), []
        for due, method, path, headers, body in schedule:
            time.sleep(max(0.0, due - time.monotonic()))
            sent = time.monotonic()
            try:
                conn.request(method, path, body=body, headers=headers)
                answer = conn.getresponse()
                answer.read()
                status = answer.status
            except (OSError, http.client.HTTPException):
                conn.close()
                status = None
            mine.append((due, sent, time.monotonic(), status))
        conn.close()
        results.extend(mine)

    threads = [threading.Thread(target=send, args=(schedule,)) for schedule in schedules]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def form(fields):
    """Encoded as CloudPayments encodes: lowercase hex escapes, + for spaces."""
    def encode(value):
        return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote_plus(str(value)))

    return "&".join(f"{k}={encode(v)}" for k, v in fields.items())


def signature(body: str) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).digest()).decode()


def pay_bodies(topo, path, count, first_transaction):
    """Signed Pay notifications for `count` distinct open invoices not yet notified, one per line."""
    rows = topo.sql("""
        SELECT i.id, i.amount, u.external_id, u.email FROM invoices i JOIN users u ON u.id = i.customer_id
        WHERE i.status = 'open' AND i.kind = 'initial' AND i.id > %s ORDER BY i.id LIMIT %s""",
                    (topo.last_notified_invoice, count))
    if len(rows) < count:
        raise RuntimeError(f"only {len(rows)} open invoices left for {count} notifications")
    with open(path, "w") as out:
        for n, (invoice_id, amount, external_id, email) in enumerate(rows):
            body = form({"TransactionId": first_transaction + n, "Amount": f"{amount / 100:.2f}", "Currency": "RUB",
                         "PaymentAmount": f"{amount / 100:.2f}", "PaymentCurrency": "RUB",
                         "DateTime": f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}", "CardFirstSix": "400000",
                         "CardLastFour": "3055", "CardType": "Visa", "CardExpDate": "12/30", "TestMode": "1",
                         "Status": "Completed", "OperationType": "Payment", "GatewayName": "Test",
                         "InvoiceId": invoice_id, "AccountId": external_id, "Email": email,
                         "Description": "Bench monthly", "Token": f"tk_bench_{invoice_id}", "Data": ""})
            out.write(f"{signature(body)}\t{body}\n")
    topo.last_notified_invoice = rows[-1][0]
    return len(rows)


# ---------------------------------------------------------------- the benchmarks


class Bench:
    def __init__(self, topo, args):
        self.topo, self.args = topo, args
        self.rows = []
        self.extra = {}
        self.transaction = 700000000

    def row(self, name, figure, baseline, target_ratio, unit, *, higher_is_better=True, note="", ok=None):
        ratio = (figure / baseline) if (figure is not None and baseline) else None
        if ok is None and ratio is not None:
            ok = ratio >= target_ratio if higher_is_better else ratio <= target_ratio
        target = f"{'>=' if higher_is_better else '<='} {target_ratio}"
        self.rows.append({"benchmark": name, "figure": figure, "baseline": baseline, "unit": unit,
                          "ratio": ratio, "target": target, "pass": ok, "note": note})
        log(f"{name}: {_fmt(figure)} vs {_fmt(baseline)} {unit} -> ratio {_fmt(ratio)} ({'pass' if ok else 'FAIL'})")

    def healthz(self):
        rounds = [wrk(f"{self.topo.web}/healthz", seconds=self.args.seconds)["rate"] for _ in range(self.args.rounds)]
        return median(rounds)

    def ingest(self, label):
        """Signed Pay notifications for distinct open invoices: verify, inbox, enqueue, answer."""
        rates = []
        budget = int(self.healthz_rate * self.args.seconds * 1.3) + 500
        for r in range(self.args.rounds):
            path = self.topo.tmp / f"pay-{label}-{r}.tsv"
            pay_bodies(self.topo, path, budget, self.transaction)
            self.transaction += budget
            result = wrk(f"{self.topo.web}/webhooks/cloudpayments/pay", seconds=self.args.seconds,
                         script=LUA / "pay.lua", script_args=(path, 2))
            if result["non_2xx"] or "exhausted" in result["raw"]:
                raise RuntimeError(f"ingest {label}: {result['non_2xx']} non-2xx answers or bodies exhausted:\n"
                                   + result["raw"])
            rates.append(result["rate"])
        return median(rates)

    def entitlement(self, customers):
        """GET the entitlement of random customers among bench-1..bench-<customers>."""
        return median([wrk(f"{self.topo.web}/api/v1", seconds=self.args.seconds, script=LUA / "entitlement.lua",
                           script_args=(customers,), headers=[f"Authorization: Bearer {API_TOKEN}"])["rate"]
                       for _ in range(self.args.rounds)])

    def pages(self, label):
        """Median latency of each customer/staff page that exists (one client, so latency not queueing)."""
        found = {}
        for who, pages in self.page_sets().items():
            cookie = self.login(*self.credentials[who])
            for name, path, headers in pages:
                probe = requests.get(f"{self.topo.web}{path}", headers={"Cookie": cookie, **headers}, timeout=30,
                                     allow_redirects=False)
                if probe.status_code != 200:
                    found[name] = None
                    self.extra.setdefault("page_status", {})[f"{name} {label}"] = probe.status_code
                    continue
                p50 = [wrk(f"{self.topo.web}{path}", seconds=1, connections=1, threads=1, latency=True,
                           headers=[f"Cookie: {cookie}", *(f"{k}: {v}" for k, v in headers.items())])["p50_ms"]
                       for _ in range(self.args.rounds)]
                found[name] = median(p50)
        return found

    def page_sets(self):
        """(name, path, extra headers) per signed-in user. /account/history and /account/subscriptions/<id>
        are htmx fragments of the account page: without HX-Request they redirect (302) to /account.
        Staff search three ways: an email's start (a full page of matches at both sizes), any part of one
        (the trigram index; one match at both sizes) and a card's last four digits (every bench card is
        ••3055: every payment matches at both sizes, a full page of customers)."""
        sub = self.bench_subscription
        invoice = self.bench_invoice
        htmx = {"HX-Request": "true"}
        account = [("account page", "/account", {}), ("account history", "/account/history", htmx),
                   ("account subscription", f"/account/subscriptions/{sub}", htmx),
                   ("account invoice", f"/account/invoices/{invoice}", {})]
        staff = [("staff subscription list", "/admin/subscriptions", {}),
                 ("staff search", "/admin/customers?q=customer1", {}),
                 ("staff search any part", "/admin/customers?q=ustomer1%40bench", {}),
                 ("staff search card last four", "/admin/customers?q=3055", {}),
                 ("staff subscription page", f"/admin/subscriptions/{sub}", {})]
        return {"customer": account, "staff": staff}

    def account_under_load(self):
        """/account for CUSTOMERS_AT_ONCE signed-in customers (customer1..50, each with its own session),
        each loading it once every --account-period seconds, staggered, for --rounds x --seconds: an open
        load (`paced`), as people watching their page are. With no pause between requests (wrk's closed
        loop) 50 connections would only measure the queue in front of two cores: p99 ~ 50 / capacity."""
        email, password = self.credentials["customer"]
        # customer1's password (made by create-user) for customers 2..50: one scrypt hash, no CLI per user.
        self.topo.sql("UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE id = 1) "
                      "WHERE id BETWEEN 2 AND %s", (CUSTOMERS_AT_ONCE,))
        cookies = [self.login(email.replace("customer1@", f"customer{n}@"), password)
                   for n in range(1, CUSTOMERS_AT_ONCE + 1)]
        period, seconds = self.args.account_period, self.args.rounds * self.args.seconds
        start = time.monotonic() + 0.5
        schedules = [[(start + (c / len(cookies) + j) * period, "GET", "/account", {"Cookie": cookie}, None)
                      for j in range(int(seconds / period))] for c, cookie in enumerate(cookies)]
        results = paced(self.topo.web_port, schedules)
        latencies = [(done - due) * 1000 if status == 200 else math.inf for due, _, done, status in results]
        late = max(sent - due for due, sent, _, _ in results) * 1000
        found = {"p50_ms": percentile(latencies, 0.5), "p99_ms": percentile(latencies, 0.99),
                 "requests": len(results), "not_200": sum(1 for r in results if r[3] != 200),
                 "rate_per_s": len(cookies) / period, "latest_send_ms": round(late, 1)}
        self.extra["account_under_load"] = found
        return found

    def login(self, email, password):
        session = requests.Session()
        page = session.get(f"{self.topo.web}/auth/login", timeout=10)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        data = {"email": email, "password": password, **({"csrf_token": token.group(1)} if token else {})}
        done = session.post(f"{self.topo.web}/auth/login", data=data, timeout=10, allow_redirects=False)
        if done.status_code not in (302, 303):
            raise RuntimeError(f"login as {email} failed: {done.status_code}")
        return "; ".join(f"{c.name}={c.value}" for c in session.cookies)

    def insert_commit_rate(self):
        """The baseline of item 2: a bare psycopg single-row INSERT+COMMIT loop."""
        rates = []
        with psycopg.connect(self.topo.db_url) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS bench_insert (id bigserial PRIMARY KEY, note text)")
            conn.commit()
            for _ in range(self.args.rounds):
                n, start = 0, time.perf_counter()
                while time.perf_counter() - start < self.args.seconds:
                    conn.execute("INSERT INTO bench_insert (note) VALUES (%s)", ("x",))
                    conn.commit()
                    n += 1
                rates.append(n / (time.perf_counter() - start))
        return median(rates)


def _fmt(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def run(args):
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk  (Debian's package; make bench does it)")
    started = time.time()
    topo = Topology(args)
    bench = Bench(topo, args)
    topo.last_notified_invoice = 0
    try:
        _run(topo, bench, args)
    finally:
        topo.cleanup()
    bench.extra["seconds_total"] = round(time.time() - started, 1)
    return bench


def _run(topo, bench, args):
    log(f"database {topo.db_name}, processes log to {topo.tmp}")
    topo.prepare()
    log(f"redis {topo.redis_url}, amqp {topo.amqp_url or 'none (no bridge)'}")
    topo.start_sandbox()
    topo.start_mail_sink()
    topo.start_web()
    if args.only == "renewal":
        _renewal_run(topo, bench, args)
        return
    small_subs, small_invoices = args.small
    large_subs, large_invoices = args.large
    ingest_budget = args.rounds * 4000 + 2000  # open invoices per phase; topped up below if the web is faster

    # --- small database: 1,000 invoices and payments
    out = topo.flask("bench-data", "--subscriptions", str(small_subs), "--invoices", str(small_invoices),
                     "--open-invoices", str(ingest_budget))
    log(f"small data: {out.strip()}")
    bench.credentials = {"customer": ("customer1@bench.invalid", "bench-customer-pw"),
                         "staff": ("staff@bench.invalid", "bench-staff-pw")}
    topo.flask("create-user", "customer1@bench.invalid", "--reset-password", "--password", "bench-customer-pw")
    topo.flask("create-user", "staff@bench.invalid", "--staff", "--password", "bench-staff-pw")
    bench.bench_subscription = topo.sql("SELECT id FROM subscriptions WHERE customer_id = 1 LIMIT 1")[0][0]
    bench.bench_invoice = topo.sql("SELECT max(id) FROM invoices WHERE customer_id = 1")[0][0]
    bench.healthz_rate = bench.healthz()
    log(f"healthz (small) {bench.healthz_rate:,.0f} req/s")
    _top_up(topo, bench, args, ingest_budget, for_active=args.only == "active")
    ingest_small = bench.ingest("small")
    log(f"ingest (small) {ingest_small:,.0f} req/s")
    if args.only == "active":
        _drop_queued(topo)
        _time_to_active(topo, bench, args, ingest_small)
        return
    if args.only == "transitions":
        _transitions(topo, bench, args, bench.insert_commit_rate())
        return
    if args.only == "web":
        bench.row("1 notification ingest (Pay, small database)", ingest_small, bench.healthz_rate, INGEST_TARGET,
                  "req/s vs /healthz")
        bench.row(f"4 entitlement read ({small_subs:,} customers)", bench.entitlement(small_subs),
                  bench.healthz_rate, ENTITLEMENT_TARGET, "req/s vs /healthz")
        return
    pages_small = bench.pages("small")
    queries_small = _query_counts(topo, bench)

    # --- large database: 1,000,000 customers (one subscription each), 1,000,000 invoices and payments
    started = time.time()
    out = topo.flask("bench-data", "--subscriptions", str(large_subs - small_subs),
                     "--invoices", str(large_invoices - small_invoices), "--open-invoices", str(ingest_budget))
    bench.extra["large_data_seconds"] = round(time.time() - started, 1)
    log(f"large data in {bench.extra['large_data_seconds']}s: {out.strip()}")
    healthz = bench.healthz()
    bench.healthz_rate = healthz
    log(f"healthz (large) {healthz:,.0f} req/s")
    _top_up(topo, bench, args, ingest_budget, for_active=args.only == "all")
    ingest_large = bench.ingest("large")
    bench.row("1 notification ingest (Pay, 1M rows)", ingest_large, healthz, INGEST_TARGET, "req/s vs /healthz")

    bench.row(f"4 entitlement read ({large_subs:,} customers)", bench.entitlement(large_subs), healthz,
              ENTITLEMENT_TARGET, "req/s vs /healthz")

    pages_large = bench.pages("large")
    queries_large = _query_counts(topo, bench)
    for name in pages_small:
        small, large = pages_small[name], pages_large.get(name)
        if small is None or large is None:
            bench.row(f"5 {name} p50 (1M vs 1k rows)", None, None, 1.3, "ms", higher_is_better=False,
                      note="page not built yet: not measurable", ok=None)
        else:
            bench.row(f"5 {name} p50 (1M vs 1k rows)", large, small, 1.3, "ms", higher_is_better=False)
    bench.row("5 notification ingest (1M vs 1k rows)", ingest_large, ingest_small, 0.9, "req/s")
    for name, small in queries_small.items():
        large = queries_large.get(name)
        bench.row(f"5 SQL queries: {name} (1M vs 1k rows)", large, small, 1.0, "queries",
                  higher_is_better=False, ok=(large is not None and large <= small))
    loaded = bench.account_under_load()
    bench.row(f"8 account page p99, {CUSTOMERS_AT_ONCE} customers (1M rows) vs p50 at one", loaded["p99_ms"]
              if loaded["p99_ms"] != math.inf else None, pages_large.get("account page"), UNDER_LOAD_TARGET, "ms",
              higher_is_better=False, ok=False if loaded["p99_ms"] == math.inf else None,
              note=f"each customer one /account every {args.account_period}s ({loaded['rate_per_s']:.0f}/s in all), "
                   f"p50 {_fmt(loaded['p50_ms'])} ms, {loaded['not_200']} not 200 of {loaded['requests']}")
    if args.only == "pages":
        return

    # --- item 2 and 6: the queued Pay notifications turned into paid invoices by the worker pool
    baseline = bench.insert_commit_rate()
    _transitions(topo, bench, args, baseline)
    # --- item 7: time to active, the worker pool keeping up with arrivals at half the ingest rate
    _time_to_active(topo, bench, args, ingest_large)
    _worker_memory(topo, bench, args)

    # --- item 3: renewal run against a live terminal
    _renewal_run(topo, bench, args)


def _top_up(topo, bench, args, have, for_active=False):
    """Enough open checkouts for the ingest rounds (and, for_active, for item 7 after them: ingest is
    slower than /healthz, so half of /healthz is more than item 7 sends)."""
    need = args.rounds * (int(bench.healthz_rate * args.seconds * 1.3) + 500)
    if for_active:
        need += int(bench.healthz_rate / 2 * args.active_seconds) + 100
    if need > have:
        topo.flask("bench-data", "--open-invoices", str(need - have + 100))


def _query_counts(topo, bench):
    """SQL statements per page (no N+1): counted in-process with the app's test client."""
    pages = [(who, name, path, headers) for who, pages in bench.page_sets().items()
             for name, path, headers in pages]
    script = ROOT / "bench" / "querycount.py"
    payload = json.dumps({"credentials": bench.credentials, "pages": pages})
    done = subprocess.run([str(BIN / "python"), str(script)], input=payload, cwd=ROOT,
                          env={**topo.env, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True)
    if done.returncode != 0:
        log(f"query count failed: {done.stderr[-2000:]}")
        return {}
    return {k: v for k, v in json.loads(done.stdout).items() if v is not None}


def _transitions(topo, bench, args, insert_rate):
    """The worker pool over every Pay notification ingested so far, for at most --transitions-seconds:
    the rate is the processed count over the first to the last processed_at. What is left when the
    window closes (ingest is fast enough to queue more than the window can drain) is taken out of the
    queue and the inbox, so the later items start from an idle queue."""
    queued = topo.sql("SELECT count(*) FROM webhook_events WHERE kind = 'pay' AND status = 'received'")[0][0]
    log(f"{queued} queued Pay notifications; starting {args.workers} workers (+ bridge), "
        f"at most {args.transitions_seconds}s")
    topo.start_bridge()
    since = datetime.now(UTC)
    topo.start_workers(args.workers)
    deadline = time.time() + args.transitions_seconds
    while time.time() < deadline:
        left = topo.sql("SELECT count(*) FROM webhook_events WHERE kind = 'pay' AND status = 'received'")[0][0]
        if left == 0:
            break
        time.sleep(0.2)
    topo.stop_workers()
    first, last, processed = topo.sql("""SELECT min(processed_at), max(processed_at), count(*) FROM webhook_events
                                         WHERE kind = 'pay' AND status = 'processed' AND processed_at >= %s""",
                                      (since,))[0]
    rate = processed / (last - first).total_seconds() if processed > 1 else None
    paid = topo.sql("""SELECT count(*) FROM invoices WHERE kind = 'initial' AND status = 'paid'
                       AND checkout_started_at IS NOT NULL""")[0][0]
    dropped = _drop_queued(topo)
    bench.extra["transitions"] = {"processed": processed, "queued": queued, "paid_invoices": paid,
                                  "left_unprocessed_and_dropped": dropped}
    bench.row(f"2 transitions (Pay -> paid + active, {args.workers} workers)", rate, insert_rate, TRANSITIONS_TARGET,
              "notifications/s vs INSERT+COMMIT/s",
              note=f"{processed} of {queued} processed in the window; {paid} invoices paid")


DRAIN_NUDGE = "portal:nudged:workers.notifications.drain_inbox"  # portal.queue.nudge(inbox.DRAIN_JOB)


def _drop_queued(topo):
    """Empty the job queues and take the Pay notifications never processed out of the inbox, so the next
    item starts from idle queues. Returns how many notifications were dropped."""
    from rq import Queue

    redis = Redis.from_url(topo.redis_url)
    for name in ("billing", "mail"):
        Queue(name, connection=redis).empty()
    # The drain job just emptied out held the inbox's nudge (portal.queue.nudge): without this the next
    # Pay would start no drain for up to its 30 s.
    redis.delete(DRAIN_NUDGE)
    return len(topo.sql("DELETE FROM webhook_events WHERE kind = 'pay' AND status = 'received' RETURNING id"))


# At COMMIT (a deferred constraint trigger fires then, in the committing transaction), the moment a
# subscription became active: when the customer's next look at the page can see it. The transition row's
# created_at is earlier by the rest of its batch (up to 100 notifications share one COMMIT).
ACTIVE_AT_COMMIT = """
    CREATE TABLE bench_active (subscription_id integer PRIMARY KEY, at timestamptz NOT NULL);
    CREATE FUNCTION bench_note_active() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO bench_active VALUES (NEW.id, clock_timestamp()) ON CONFLICT DO NOTHING;
        RETURN NULL;
    END $$;
    CREATE CONSTRAINT TRIGGER bench_active AFTER UPDATE OF status ON subscriptions
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        WHEN (NEW.status = 'active' AND OLD.status <> 'active') EXECUTE FUNCTION bench_note_active();"""


def _time_to_active(topo, bench, args, ingest_rate):
    """Signed Pay notifications for distinct open checkouts at half the measured ingest rate
    (--active-share), on a fixed schedule (`paced`) for --active-seconds, into an idle queue with the
    worker pool running: from each notification's arrival (its inbox row's received_at) to its
    subscription being active (at COMMIT, ACTIVE_AT_COMMIT). A notification whose subscription is not
    active within --active-timeout after the last one was sent counts as never (math.inf): it fails
    p99 if more than 1 % are."""
    rate = ingest_rate * args.active_share
    # Connections enough for answers slowed to 100 ms by the workers' share of the two cores.
    count, threads = int(rate * args.active_seconds), max(16, int(rate / 10))
    path = topo.tmp / "pay-active.tsv"
    pay_bodies(topo, path, count, bench.transaction)
    bench.transaction += count
    lines = [line.rstrip("\n").split("\t", 1) for line in open(path)]
    topo.sql(ACTIVE_AT_COMMIT)
    topo.start_workers(args.workers)
    log(f"time to active: {count} Pay notifications at {rate:,.0f}/s, {args.workers} workers")
    since = datetime.now(UTC)
    start = time.monotonic() + 0.5
    schedules = [[(start + n / rate, "POST", "/webhooks/cloudpayments/pay",
                   {"Content-Type": "application/x-www-form-urlencoded", "Content-HMAC": sig}, body.encode())
                  for n, (sig, body) in enumerate(lines) if n % threads == t] for t in range(threads)]
    cpu = time.process_time()
    answers = paced(topo.web_port, schedules)
    cpu = time.process_time() - cpu
    sent_for = max(a[1] for a in answers) - min(a[0] for a in answers) if answers else 0
    deadline = time.time() + args.active_timeout
    while time.time() < deadline and topo.sql("SELECT count(*) FROM bench_active")[0][0] < count:
        time.sleep(0.2)
    rows = topo.sql("""
        SELECT extract(epoch FROM a.at - w.received_at) * 1000 FROM webhook_events w
        JOIN invoices i ON i.id = w.invoice_id::integer
        LEFT JOIN bench_active a ON a.subscription_id = i.subscription_id
        WHERE w.kind = 'pay' AND w.received_at >= %s""", (since,))
    topo.stop_workers()
    topo.sql("DROP TRIGGER bench_active ON subscriptions")
    dropped = _drop_queued(topo)
    waits = [float(ms) if ms is not None else math.inf for (ms,) in rows]
    waits += [math.inf] * (count - len(waits))  # not even stored
    p50, p99 = percentile(waits, 0.5), percentile(waits, 0.99)
    answer_ms = [(done - due) * 1000 for due, _, done, _ in answers]
    bench.extra["time_to_active"] = {
        "offered_per_s": round(rate, 1), "sent": len(answers), "seconds_sending": round(sent_for, 1),
        "sender_cpu_seconds": round(cpu, 1), "connections": threads,
        "not_2xx": sum(1 for *_, status in answers if status is None or status >= 300),
        "stored": len(rows), "never_active": sum(1 for w in waits if w == math.inf), "dropped_unprocessed": dropped,
        "answer_p50_ms": percentile(answer_ms, 0.5), "answer_p99_ms": percentile(answer_ms, 0.99),
        "active_max_ms": max(waits, default=None)}
    note = (f"{count:,} notifications at {rate:,.0f}/s ({args.active_share} of ingest {ingest_rate:,.0f}/s), sent in "
            f"{sent_for:.1f}s for {args.active_seconds}s scheduled, "
            f"answered p99 {_fmt(bench.extra['time_to_active']['answer_p99_ms'])} ms, "
            f"{bench.extra['time_to_active']['never_active']} not active within {args.active_timeout}s")
    for name, figure, limit in (("p50", p50, ACTIVE_P50_MS), ("p99", p99, ACTIVE_P99_MS)):
        bench.row(f"7 time to active {name} (Pay at {args.active_share} x the ingest rate)",
                  None if figure == math.inf else figure, limit, 1.0, "ms vs limit ms", higher_is_better=False,
                  note=note, ok=False if figure == math.inf else None)


def _worker_memory(topo, bench, args):
    """One worker's resident memory after 1,000 and after 10,000 jobs: real notification jobs over
    10,500 distinct stored (already processed) notifications, each locked, checked and left alone,
    the path every redelivered or swept notification takes."""
    from rq import Queue, Worker

    redis = Redis.from_url(topo.redis_url)
    queue = Queue("billing", connection=redis)
    ids = [i for (i,) in topo.sql("SELECT id FROM webhook_events WHERE status = 'processed' ORDER BY id LIMIT 10500")]
    for chunk in range(0, len(ids), 500):
        queue.enqueue_many([Queue.prepare_data("workers.notifications.process_notification", args=(i,),
                                               result_ttl=60) for i in ids[chunk:chunk + 500]])
    names = topo.start_workers(1, prefix="memory", with_scheduler=False)
    memory, deadline = {}, time.time() + args.drain_timeout
    while time.time() < deadline and len(memory) < 2:
        worker = next((w for w in Worker.all(connection=redis) if w.name == names[0]), None)
        if worker is not None:
            for mark in (1000, 10000):
                if worker.successful_job_count >= mark and mark not in memory:
                    memory[mark] = _rss(worker.pid)
        time.sleep(0.1)
    bench.row("6 worker RSS after 10,000 jobs vs 1,000", memory.get(10000), memory.get(1000), 1.1, "MiB",
              higher_is_better=False, ok=False if len(memory) < 2 else None,
              note="" if len(memory) == 2 else f"reached only {max(memory, default=0)} jobs in time")
    topo.stop_workers("memory")
    queue.empty()


def _rss(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def _renewal_run(topo, bench, args):
    """10,000 subscriptions due at once against a terminal with 300 ms latency and 30 calls at a time.

    Renewed means the period advanced (current_period_end past the one that fell due) with the renewal
    invoice paid, not merely status 'active' (a subscription nobody charged is still 'active');
    charged exactly once is counted by the sandbox, per InvoiceId. The in-flight average is the
    sandbox's, over the charging window: from the first API call to the moment every due subscription
    is renewed or past due."""
    from rq import Queue

    sandbox = topo.sandbox
    # Saved cards the sandbox knows: one widget payment per card, notifications off while we do it.
    requests.post(f"{sandbox}/control", json={"urls": {"check": "", "pay": "", "fail": ""}}, timeout=10)
    tokens = {}
    for card in (SUCCESS_CARD, DECLINING_CARD):
        answer = requests.post(f"{sandbox}/widget/pay", json={
            "publicId": PUBLIC_ID, "amount": 1, "currency": "RUB", "invoiceId": "bench-card",
            "accountId": "bench-cards", "email": "cards@bench.invalid", "description": "card for the bench",
            "cardNumber": card, "expDate": "12/30", "cvv": "123", "type": "charge"}, timeout=30).json()
        tokens[card] = answer["Token"]
    requests.post(f"{sandbox}/control", json={"urls": {"check": None, "pay": None, "fail": None}}, timeout=10)
    # One card in ten declines on token charges: those subscriptions go past due.
    token_args = []
    for _ in range(9):
        token_args += ["--token", tokens[SUCCESS_CARD]]
    token_args += ["--token", tokens[DECLINING_CARD]]
    out = topo.flask("bench-data", "--due", str(args.due), *token_args)
    first, last = map(int, re.search(r"due_subscriptions=(\d+)\.\.(\d+)", out).groups())
    # The period each due subscription is in, kept beside it: renewed is "moved past this one".
    topo.sql("""CREATE TABLE bench_due AS SELECT id, current_period_end AS old_end FROM subscriptions
                WHERE id BETWEEN %s AND %s""", (first, last))
    limit, latency_ms = 30, 300
    # Each renewal job charges RENEWAL_BATCH cards side by side; PROVIDER_CONCURRENCY keeps the calls of
    # all workers together under the terminal's limit, so there may be more charges ready than slots.
    batch = args.renewal_batch
    topo.env.update(RENEWAL_BATCH=str(batch), PROVIDER_CONCURRENCY=str(limit))
    topo.start_workers(args.renewal_workers, prefix="renewal")
    known = requests.post(f"{sandbox}/control", json={"latency_ms": latency_ms, "concurrency_limit": limit},
                          timeout=10).json()
    bench.extra["renewal_run"] = {"sandbox_settings": {
        k: known.get(k) for k in ("latency_ms", "concurrency_limit", "check_on_token_charges")}}
    requests.post(f"{sandbox}/stats/reset", timeout=10)
    started = time.time()
    redis = Redis.from_url(topo.redis_url)
    queue = Queue("billing", connection=redis)
    # The cron tick, enqueued as `rq cron` would.
    tick = queue.enqueue("workers.ticks.renewals", job_timeout=1800)
    settled_sql = """
        SELECT count(*) FILTER (WHERE s.status = 'active' AND s.current_period_end > d.old_end),
               count(*) FILTER (WHERE s.status = 'past_due'),
               count(*) FILTER (WHERE s.status = 'active' AND s.current_period_end <= d.old_end),
               count(*) FILTER (WHERE s.status NOT IN ('active', 'past_due'))
        FROM bench_due d JOIN subscriptions s ON s.id = d.id"""
    deadline = started + args.renewal_timeout
    settled_at = None
    progress = []
    while time.time() < deadline:
        renewed, past_due, unrenewed, other = topo.sql(settled_sql)[0]
        progress.append((round(time.time() - started, 1), renewed + past_due))
        if len(progress) % 120 == 0:
            log(f"renewal run: {renewed} renewed, {past_due} past due of {args.due} after {progress[-1][0]:.0f}s")
        if renewed + past_due + other == args.due:
            settled_at = time.time()
            break
        time.sleep(0.25)
    # In flight over the charging window: the snapshot as the last subscription settles.
    window = requests.get(f"{sandbox}/stats", timeout=30).json()
    elapsed = (settled_at or time.time()) - started
    # Then let the queue drain (Pay notifications the sandbox posted back, any retries), so a late
    # second charge is still counted.
    drain_deadline = time.time() + 60
    while time.time() < drain_deadline:
        busy = queue.count + queue.started_job_registry.count + queue.scheduled_job_registry.count
        if busy == 0 and requests.get(f"{sandbox}/stats", timeout=30).json()["in_flight"] == 0:
            break
        time.sleep(0.5)
    stats = requests.get(f"{sandbox}/stats", timeout=30).json()
    renewed, past_due, unrenewed, other = topo.sql(settled_sql)[0]
    charges = stats["charges_per_invoice"]
    invoices = {str(i): (s, paid) for i, s, paid in topo.sql("""
        SELECT i.id, i.status, EXISTS (SELECT 1 FROM payments p WHERE p.invoice_id = i.id)
        FROM invoices i JOIN bench_due d ON d.id = i.subscription_id AND i.period_start = d.old_end
        WHERE i.kind = 'renewal'""")}
    per_sub = len(invoices)
    charged_once = sum(1 for i in invoices if charges.get(i) == 1)
    charged_twice = sum(1 for i in invoices if charges.get(i, 0) > 1)
    never_charged = sum(1 for i in invoices if charges.get(i, 0) == 0)
    foreign = {k: v for k, v in charges.items() if k not in invoices}
    refused = sum(1 for _, (status, has_payment) in invoices.items() if status == "open" and not has_payment)
    tick.refresh()
    tick_seconds = (tick.ended_at - tick.started_at).total_seconds() if tick.ended_at and tick.started_at else None
    failed_jobs = queue.failed_job_registry.count
    bench.extra["renewal_run"].update({
        "seconds_to_settle": round(elapsed, 1), "settled": settled_at is not None, "tick_seconds": tick_seconds,
        "renewed": renewed, "past_due": past_due, "active_not_renewed": unrenewed, "other_status": other,
        "renewal_invoices": per_sub, "charged_once": charged_once, "charged_twice_or_more": charged_twice,
        "never_charged": never_charged, "past_due_without_a_charge (refused)": refused,
        "charges_total": sum(charges.values()), "charges_on_other_invoice_ids": len(foreign),
        "in_flight_avg_window": window["in_flight_avg"], "in_flight_avg_busy": window["in_flight_avg_busy"],
        "in_flight_max": window["in_flight_max"], "rejected_429": stats["rejected_429"],
        "api_calls": stats["api_calls"], "failed_jobs": failed_jobs,
        "settled_over_time": progress[::max(1, len(progress) // 40)]})
    bench.row(f"3 renewal run: avg charges in flight ({args.due:,} due, {args.renewal_workers}x{batch} side by side, "
              f"{limit} slots)",
              window["in_flight_avg"], limit, IN_FLIGHT_TARGET, "calls",
              note=f"settled in {elapsed:.0f}s ({'all' if settled_at else 'NOT all'}), "
              f"{args.due / elapsed:.0f} subscriptions/s; tick job {_fmt(tick_seconds)}s; "
              f"max {window['in_flight_max']} in flight")
    # The physical limit: every charge takes the latency, at most `limit` at a time.
    physical = args.due * latency_ms / 1000 / limit
    bench.row("3 renewal run: wall time, tick to the last settled", elapsed if settled_at else None, physical,
              WALL_TIME_TARGET, "s vs physical limit s", higher_is_better=False, ok=False if not settled_at else None,
              note=f"physical limit {args.due:,} x {latency_ms} ms / {limit} slots"
                   + ("" if settled_at else f"; not all settled within {args.renewal_timeout}s"))
    bench.row("3 renewal run: 429 answers", stats["rejected_429"], 0, 0, "answers", higher_is_better=False,
              ok=stats["rejected_429"] == 0)
    bench.row("3 renewal run: charged exactly once", charged_once, args.due, 1.0, "subscriptions",
              ok=charged_once == args.due == per_sub and not foreign,
              note=f"{per_sub} renewal invoices, {never_charged} never charged, {charged_twice} charged twice or "
                   f"more, {len(foreign)} charges on other InvoiceIds, {refused} refused without a charge")
    bench.row("3 renewal run: renewed (period advanced) or past due", renewed + past_due, args.due, 1.0,
              "subscriptions", ok=renewed + past_due == args.due,
              note=f"renewed {renewed}, past due {past_due}, still active in the old period {unrenewed}, "
                   f"other {other}; {failed_jobs} failed jobs")
    topo.stop_workers("renewal")


def print_table(bench, args):
    header = ("benchmark", "figure", "baseline", "ratio", "target", "result")
    lines = [(r["benchmark"], _fmt(r["figure"]), _fmt(r["baseline"]), _fmt(r["ratio"]), r["target"],
              "pass" if r["pass"] else ("n/a" if r["pass"] is None else "FAIL")) for r in bench.rows]
    widths = [max(len(str(x[i])) for x in [header, *lines]) for i in range(len(header))]
    print()
    for line in [header, tuple("-" * w for w in widths), *lines]:
        print("  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)))
    for r in bench.rows:
        if r["note"]:
            print(f"  note: {r['benchmark']}: {r['note']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"bench-{stamp}.json"
    path.write_text(json.dumps({"when": stamp, "args": {k: v for k, v in vars(args).items()},
                                "rows": bench.rows, "extra": bench.extra}, indent=2, default=str))
    print(f"\nwritten {path.relative_to(ROOT)} (total {bench.extra.get('seconds_total')}s)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="rounds per figure; the median is reported")
    parser.add_argument("--seconds", type=int, default=4, help="wrk duration of each throughput round")
    parser.add_argument("--web-workers", type=int, default=0,
                        help="gunicorn sync workers (default: the Procfile's, portal/web_server.py)")
    parser.add_argument("--workers", type=int, default=3, help="worker processes for the transition benchmark")
    parser.add_argument("--due", type=int, default=10000, help="subscriptions due in the renewal run")
    parser.add_argument("--small", type=int, nargs=2, default=(100, 1000), metavar=("SUBS", "INVOICES"))
    parser.add_argument("--large", type=int, nargs=2, default=(1000000, 1000000), metavar=("SUBS", "INVOICES"),
                        help="customers with one subscription each, paid invoices over them (issue 21: 1M each)")
    parser.add_argument("--drain-timeout", type=int, default=240, help="cap of the worker-memory run")
    parser.add_argument("--transitions-seconds", type=int, default=60,
                        help="window of the transition benchmark (item 2)")
    parser.add_argument("--renewal-batch", type=int, default=6,
                        help="RENEWAL_BATCH of the renewal run's workers")
    parser.add_argument("--renewal-workers", type=int, default=8,
                        help="worker processes of the renewal run (x --renewal-batch may exceed the terminal's 30: "
                             "PROVIDER_CONCURRENCY=30 keeps the calls under it)")
    parser.add_argument("--renewal-timeout", type=int, default=420)
    parser.add_argument("--active-seconds", type=int, default=10,
                        help="how long item 7 sends Pay notifications at half the ingest rate")
    parser.add_argument("--active-share", type=float, default=0.5,
                        help="item 7's arrival rate as a share of the measured ingest rate (issue 21: half)")
    parser.add_argument("--active-timeout", type=int, default=60,
                        help="item 7: how long after the last one a notification may take to activate")
    parser.add_argument("--account-period", type=float, default=1.0,
                        help="item 8: seconds between one customer's loads of /account")
    parser.add_argument("--only", choices=("all", "renewal", "transitions", "web", "active", "pages"), default="all",
                        help="renewal: item 3 alone; transitions: small data, ingest, then item 2 alone; "
                             "web: small data, items 1 and 4 against /healthz (quick A/Bs); active: small data, "
                             "ingest, then item 7 alone; pages: small and --large data, items 1, 4, 5 and 8")
    parser.add_argument("--keep", action="store_true", help="keep the database, vhost and process logs")
    args = parser.parse_args(argv)
    bench = run(args)
    print_table(bench, args)
    return 0 if all(r["pass"] is not False for r in bench.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
