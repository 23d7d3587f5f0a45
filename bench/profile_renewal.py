"""Where a renewal's CPU goes (item 3 of bench/README.md).

    .venv/bin/python bench/profile_renewal.py [--count 400] [--keep]

A database and Redis database of its own, the sandbox as its own process with no latency (so the
figures are our CPU, not the provider's wait), `--count` subscriptions due with a saved card. Then, in
one process as the jobs run them: `renewals.renew_many(group)` per RENEWAL_BATCH subscriptions, CPU
time (`time.process_time`) and SQL statements per renewal, half of the groups under pyinstrument.
Prints a report and writes it as JSON next to the bench results."""
import argparse
import collections
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run as bench  # noqa: E402  (the harness: Topology, cards)
from profile_transitions import profile_each  # noqa: E402


def inner(first: int, last: int) -> dict:
    from sqlalchemy import event

    from portal import create_app
    from portal.billing import renewals
    from portal.extensions import db

    app = create_app()
    statements = collections.Counter()

    def count(conn, cursor, statement, params, context, executemany):
        statements[" ".join(statement.split()[:3])[:50]] += 1

    with app.app_context():
        size = app.config["RENEWAL_BATCH"]
        ids = list(range(first, last + 1))
        groups = [ids[i:i + size] for i in range(0, len(ids), size)]
        warm, timed, profiled = groups[:1], groups[1:len(groups) // 2], groups[len(groups) // 2:]
        for group in warm:
            renewals.renew_many(group)
            db.session.remove()
        event.listen(db.engine, "before_cursor_execute", count)
        cpu, wall = time.process_time(), time.perf_counter()
        outcomes = collections.Counter()
        for group in timed:
            outcomes.update(renewals.renew_many(group).values())
            db.session.remove()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        event.remove(db.engine, "before_cursor_execute", count)
        profiler = profile_each(renewals.renew_many, profiled)
    n = sum(len(group) for group in timed)
    return {"renewals": n, "outcomes": dict(outcomes), "cpu_ms_per_renewal": round(cpu / n * 1000, 2),
            "wall_ms_per_renewal": round(wall / n * 1000, 2),
            "statements_per_renewal": {k: round(v / n, 2) for k, v in statements.most_common()},
            "pyinstrument": profiler.output_text(unicode=False, color=False, show_all=False)}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--inner", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        json.dump(inner(*args.inner), sys.stdout)
        return
    topo = bench.Topology(argparse.Namespace(keep=args.keep))
    try:
        topo.prepare()
        topo.env.pop("AMQP_URL", None)
        topo.start_sandbox()
        sandbox = topo.sandbox
        requests.post(f"{sandbox}/control", json={"urls": {"check": "", "pay": "", "fail": ""}}, timeout=10)
        token = requests.post(f"{sandbox}/widget/pay", json={
            "publicId": bench.PUBLIC_ID, "amount": 1, "currency": "RUB", "invoiceId": "profile-card",
            "accountId": "profile-cards", "email": "cards@bench.invalid", "description": "card",
            "cardNumber": bench.SUCCESS_CARD, "expDate": "12/30", "cvv": "123", "type": "charge"},
            timeout=30).json()["Token"]
        out = topo.flask("bench-data", "--due", str(args.count), "--token", token)
        first, last = map(int, re.search(r"due_subscriptions=(\d+)\.\.(\d+)", out).groups())
        done = subprocess.run([str(bench.BIN / "python"), __file__, "--inner", str(first), str(last)],
                              cwd=bench.ROOT, env={**topo.env, "PYTHONPATH": str(bench.ROOT)},
                              capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stderr[-3000:])
        report = json.loads(done.stdout)
    finally:
        topo.cleanup()
    print(json.dumps({k: v for k, v in report.items() if k != "pyinstrument"}, indent=2))
    print(report["pyinstrument"])
    bench.RESULTS.mkdir(parents=True, exist_ok=True)
    (bench.RESULTS / f"profile-renewal-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
