"""Where a worker's time goes per queued Pay notification (item 2 of bench/README.md).

    .venv/bin/python bench/profile_transitions.py [--count 600] [--keep]

A database and a Redis database of its own (as bench/run.py makes them), `--count` pending checkouts
and for each a stored, unprocessed signed Pay notification. Then, with nothing else running:
  1. in-process: `notifications.process(id)` in a loop as the job wrapper runs it (app context, session
     removed after each), every SQL statement counted and timed at the cursor, the state machines' binding
     and event dispatch timed, and a pyinstrument profile of a part of the loop;
  2. one `BillingWorker` (`rq worker --burst`) draining the same kind of notifications as RQ jobs, under
     py-spy, and the same worker draining trivial jobs: the difference is RQ's share per job.
Prints a report (and writes it as JSON next to the bench results)."""
import argparse
import collections
import inspect
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run as bench  # noqa: E402  (the harness: Topology, pay_bodies)


def inner(count: int, skip: int) -> dict:
    """Runs with the bench database in the environment: the in-process part."""
    from sqlalchemy import event, select

    from portal import create_app
    from portal.billing import notifications
    from portal.extensions import db
    from portal.machines.base import BillingMachine
    from portal.models import WebhookEvent

    app = create_app()
    timing = collections.defaultdict(float)
    counting = collections.Counter()
    stmts = collections.Counter()

    def before(conn, cursor, statement, params, context, executemany):
        conn.info["t0"] = time.perf_counter()

    def after(conn, cursor, statement, params, context, executemany):
        timing["sql"] += time.perf_counter() - conn.info.pop("t0")
        counting["sql"] += 1
        stmts[" ".join(statement.split()[:4])[:60]] += 1

    def timed(owner, name, key):
        original = inspect.getattr_static(owner, name)
        raw = original.__func__ if isinstance(original, classmethod) else original

        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return raw(*args, **kwargs)
            finally:
                timing[key] += time.perf_counter() - t0
                counting[key] += 1
        setattr(owner, name, classmethod(wrapper) if isinstance(original, classmethod) else wrapper)

    timed(BillingMachine, "bind", "machine_bind")
    timed(BillingMachine, "send", "machine_send")
    # Commit: the transaction's end (COMMIT round trip, flush of pending rows).
    from sqlalchemy.orm import Session
    timed(Session, "commit", "session_commit")
    timed(Session, "flush", "session_flush")

    with app.app_context():
        ids = db.session.scalars(select(WebhookEvent.id).where(
            WebhookEvent.kind == "pay", WebhookEvent.status == "received").order_by(WebhookEvent.id)).all()
        ids = ids[skip:skip + count]
        db.session.remove()
        event.listen(db.engine, "before_cursor_execute", before)
        event.listen(db.engine, "after_cursor_execute", after)
        warm, measured = ids[:20], ids[20:]
        for i in warm:
            notifications.process(i)
            db.session.remove()
        timing.clear()
        counting.clear()
        stmts.clear()
        profiled = measured[len(measured) // 2:]
        plain = measured[:len(measured) // 2]
        t0 = time.perf_counter()
        for i in plain:
            notifications.process(i)
            db.session.remove()
        wall = time.perf_counter() - t0
        timing_plain, counting_plain, stmts_plain = dict(timing), dict(counting), dict(stmts)
        profiler = profile_each(notifications.process, profiled)
    n = len(plain)
    # Timers overlap: flush includes its SQL, machine_send includes the flushes its listeners trigger.
    per = {k: round(v / n * 1000, 3) for k, v in timing_plain.items()}
    return {"notifications": n, "wall_ms_per_notification": round(wall / n * 1000, 3),
            "rate_per_second_one_process": round(n / wall, 1),
            "ms_per_notification": per,
            "calls_per_notification": {k: round(v / n, 2) for k, v in counting_plain.items()},
            "statements_per_notification": {k: round(v / n, 2) for k, v in
                                            sorted(stmts_plain.items(), key=lambda kv: -kv[1])},
            "pyinstrument": profiler.output_text(unicode=False, color=False, show_all=False)}


def profile_each(job, args_list):
    """pyinstrument over `job(args)` for each, as a worker runs them (session removed after each)."""
    from pyinstrument import Profiler

    from portal.extensions import db

    profiler = Profiler(interval=0.0005)
    profiler.start()
    for args in args_list:
        job(args)
        db.session.remove()
    profiler.stop()
    return profiler


def seal_stored() -> None:
    """The inbox keeps bodies sealed (they carry the card token): seal what store_unprocessed wrote plain."""
    from sqlalchemy import text

    from portal.extensions import db
    from portal.models.types import seal

    rows = db.session.execute(text("SELECT id, body FROM webhook_events WHERE status = 'received'")).all()
    for id_, body in rows:
        db.session.execute(text("UPDATE webhook_events SET body = :body WHERE id = :id"),
                           {"id": id_, "body": seal(bytes(body))})
    db.session.commit()


def inner_batch() -> dict:
    """In-process: `inbox.drain()` (the batch path the drain jobs run) over every stored notification
    left, half timed plainly with statements counted, half under pyinstrument."""
    from pyinstrument import Profiler
    from sqlalchemy import event, func, select

    from portal import create_app
    from portal.billing import inbox
    from portal.extensions import db
    from portal.models import WebhookEvent

    app = create_app()
    statements = collections.Counter()

    def count(conn, cursor, statement, params, context, executemany):
        statements[" ".join(statement.split()[:3])[:50]] += 1

    with app.app_context():
        seal_stored()
        waiting = select(func.count()).select_from(WebhookEvent).where(WebhookEvent.status == "received")
        total = db.session.scalar(waiting)
        db.session.remove()
        inbox.drain()  # warm: the first batch builds the machines and the mappers' caches
        db.session.remove()
        event.listen(db.engine, "before_cursor_execute", count)
        t0, done, batches = time.perf_counter(), 0, 0
        while done < total // 2:
            done += inbox.drain()
            batches += 1
            db.session.remove()
        wall = time.perf_counter() - t0
        event.remove(db.engine, "before_cursor_execute", count)
        profiler = Profiler(interval=0.0005)
        profiler.start()
        while inbox.drain():
            db.session.remove()
        profiler.stop()
    return {"notifications": done, "batches": batches, "batch_size": inbox.BATCH_SIZE,
            "wall_ms_per_notification": round(wall / done * 1000, 3),
            "rate_per_second_one_process": round(done / wall, 1),
            "statements_per_batch": {k: round(v / batches, 1) for k, v in statements.most_common()},
            "pyinstrument": profiler.output_text(unicode=False, color=False, show_all=False)}


def collapse(raw: Path) -> dict:
    """py-spy raw (collapsed) stacks -> share of samples by the layer the innermost frame belongs to."""
    layers = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        samples = int(samples)
        total += samples
        frames = stack.split(";")
        in_job = any("perform_job" in f or "execute_job" in f for f in frames)
        leaf = frames[-1]
        if "psycopg" in leaf or "recv" in leaf or "poll" in leaf or "wait" in leaf.lower():
            layer = "waiting on PostgreSQL (psycopg)"
        elif "redis" in leaf:
            layer = "redis client"
        elif "statemachine" in stack and any("statemachine" in f for f in frames[-6:]):
            layer = "python-statemachine"
        elif "sqlalchemy" in leaf:
            layer = "SQLAlchemy (ORM/Core)"
        elif "/rq/" in leaf:
            layer = "rq"
        else:
            layer = "other python"
        layers[("job body" if any("workers/notifications.py" in f for f in frames) else
                ("rq, outside the job body" if in_job or "/rq/" in stack else "process")) + ": " + layer] += samples
    return {k: round(v / total * 100, 1) for k, v in layers.most_common()} | {"samples": total}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=600)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--skip", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--batch", action="store_true", help="profile the batch path (inbox.drain) alone")
    args = parser.parse_args()
    if args.inner:
        json.dump(inner_batch() if args.batch else inner(args.count, args.skip), sys.stdout)
        return
    topo = bench.Topology(argparse.Namespace(keep=args.keep))
    try:
        report = _outer(topo, args)
    finally:
        topo.cleanup()
    print(json.dumps({k: v for k, v in report.items() if k != "pyinstrument"}, indent=2))
    print(report.get("pyinstrument", ""))
    bench.RESULTS.mkdir(parents=True, exist_ok=True)
    (bench.RESULTS / f"profile-transitions-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(
        json.dumps(report, indent=2))


def store_unprocessed(topo, path):
    """The signed Pay bodies in `path` stored in the inbox as if just received, no job queued."""
    rows = []
    for line in path.read_text().splitlines():
        _, body = line.split("\t", 1)
        fields = dict(p.split("=", 1) for p in body.split("&"))
        rows.append((fields["TransactionId"], fields["InvoiceId"], body.encode()))
    with bench.psycopg.connect(topo.db_url) as conn:
        with conn.cursor() as cur:
            cur.executemany("""INSERT INTO webhook_events (provider, kind, transaction_id, invoice_id, status,
                               attempts, content_type, body, remote_addr, received_at)
                               VALUES ('cloudpayments', 'pay', %s, %s, 'received', 0,
                                       'application/x-www-form-urlencoded', %s, '127.0.0.1', now())""", rows)


def _outer(topo, args):
    from redis import Redis
    from rq import Queue

    topo.prepare()
    topo.env.pop("AMQP_URL", None)
    n_rq = args.count
    topo.flask("bench-data", "--open-invoices", str(args.count + n_rq + 100))
    topo.last_notified_invoice = 0
    path = topo.tmp / "pay.tsv"
    bench.pay_bodies(topo, path, args.count + n_rq, 800000000)
    store_unprocessed(topo, path)
    report = {}
    if args.batch:
        done = subprocess.run([str(bench.BIN / "python"), __file__, "--inner", "--batch"], cwd=bench.ROOT,
                              env={**topo.env, "PYTHONPATH": str(bench.ROOT)}, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stderr[-3000:])
        report["batch_in_process"] = json.loads(done.stdout)
        report["pyinstrument"] = report["batch_in_process"].pop("pyinstrument")
        return report
    done = subprocess.run([str(bench.BIN / "python"), __file__, "--inner", "--count", str(args.count)],
                          cwd=bench.ROOT, env={**topo.env, "PYTHONPATH": str(bench.ROOT)},
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    report["in_process"] = json.loads(done.stdout)
    report["pyinstrument"] = report["in_process"].pop("pyinstrument")

    redis = Redis.from_url(topo.redis_url)
    queue = Queue("billing", connection=redis)
    left = [i for (i,) in topo.sql("SELECT id FROM webhook_events WHERE status = 'received' ORDER BY id")]
    worker = [str(bench.BIN / "rq"), "worker", "--burst", "--url", topo.redis_url, "-w",
              "workers.worker.BillingWorker", "--logging_level", "WARNING", "billing", "mail"]

    def drain(jobs, profile=None):
        for chunk in range(0, len(jobs), 500):
            queue.enqueue_many(jobs[chunk:chunk + 500])
        argv = worker if profile is None else [str(bench.BIN / "py-spy"), "record", "--rate", "200",
                                               "--format", "raw", "-o", str(profile), "--", *worker]
        # The app is built before the first job; time from the first job's start to the last's end.
        subprocess.run(argv, cwd=bench.ROOT, env=topo.env, capture_output=True, check=True)
        return queue

    from rq.job import Job
    jobs = [Queue.prepare_data("workers.notifications.process_notification", args=(i,), result_ttl=600)
            for i in left]
    drain(jobs)
    r = topo.sql("""SELECT count(*), extract(epoch FROM max(processed_at) - min(processed_at))
                    FROM webhook_events WHERE status = 'processed' AND id = ANY(%s)""", (left,))[0]
    report["rq_worker"] = {"notification_jobs": r[0], "rate_per_second": round((r[0] - 1) / float(r[1]), 1)}
    # Trivial jobs through the same worker: RQ's own cost per job.
    trivial = [Queue.prepare_data("time.sleep", args=(0,), result_ttl=600) for _ in range(n_rq)]
    for chunk in range(0, len(trivial), 500):
        queue.enqueue_many(trivial[chunk:chunk + 500])
    t0 = time.time()
    subprocess.run(worker, cwd=bench.ROOT, env=topo.env, capture_output=True, check=True)
    ids = queue.finished_job_registry.get_job_ids()
    fetched = [j for j in Job.fetch_many(ids, connection=redis) if j and j.func_name == "time.sleep"]
    if len(fetched) > 1:
        span = (max(j.ended_at for j in fetched) - min(j.started_at for j in fetched)).total_seconds()
        report["rq_worker"]["trivial_jobs_per_second"] = round((len(fetched) - 1) / span, 1)
    report["rq_worker"]["trivial_wall_seconds"] = round(time.time() - t0, 1)
    # py-spy over a second batch of notification jobs (new rows: the first batch is processed).
    more = args.count
    topo.flask("bench-data", "--open-invoices", str(more + 50))
    path2 = topo.tmp / "pay2.tsv"
    bench.pay_bodies(topo, path2, more, 810000000)
    store_unprocessed(topo, path2)
    fresh = [i for (i,) in topo.sql("SELECT id FROM webhook_events WHERE status = 'received' ORDER BY id")]
    raw = topo.tmp / "pyspy.txt"
    drain([Queue.prepare_data("workers.notifications.process_notification", args=(i,), result_ttl=600)
           for i in fresh], profile=raw)
    report["py_spy_rq_worker_share_percent"] = collapse(raw)
    report["py_spy_raw"] = str(raw)
    return report


if __name__ == "__main__":
    main()
