"""The mutation run (`make mutation`): every mutant of the money rules, each in a copy of the tree, against
the tests of its module; a report per module. How to read it: tests/mutation/README.md."""
import argparse
import faulthandler
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.mutation.operators import Mutant, mutants  # noqa: E402
from tests.mutation.targets import TARGETS, Target  # noqa: E402

RESULTS = ROOT / "tests" / "mutation" / "results"
PYTHON = sys.executable
BASE_DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_SERVER = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0]
# What is never copied into a mutant's tree: caches, the venv, run output.
# The pytest processes running now, by process id, with the tag naming what they took.
_LIVE: dict[int, str] = {}
_STOPPING = threading.Event()
_NOT_COPIED = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", "node_modules", "instance", "results"}


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed, timeout, survived, equivalent, error
    seconds: float = 0.0
    detail: str = ""  # the first failing test, or why it is equivalent, or the error
    cpu: float | None = None  # CPU seconds of its pytest run (forked runs only)
    carried: bool = False  # taken from the run --survivors-of names, not run again

    def as_json(self) -> dict:
        m = self.mutant
        return {"where": m.where, "scope": m.scope, "operator": m.operator, "before": m.before, "after": m.after,
                "key": m.key, "status": self.status, "seconds": round(self.seconds, 2), "cpu": self.cpu,
                "detail": self.detail, "carried": self.carried}


@dataclass
class Slot:
    """A copy of the tree that one mutant at a time runs in, with its fork server (tests/mutation/forkserver.py)
    when the run uses one."""
    tree: Path
    database: str  # portal_test_mut<run>_slot<n>: made by the run, emptied after a killed mutant, dropped at the end
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: subprocess.Popen | None = None

    def start_server(self) -> None:
        self.server = subprocess.Popen([PYTHON, "-m", "tests.mutation.forkserver"], cwd=self.tree,
                                       env=_environment(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       text=True, start_new_session=True)
        if not json.loads(self.server.stdout.readline() or "{}").get("ready"):
            raise RuntimeError(f"the fork server in {self.tree} did not start")

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.stdin.close()
            try:
                self.server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.server.kill()
            self.server = None

    def variables(self, tag: str) -> dict:
        """What names a run: its tag (its Redis claim) and the slot's database."""
        return {"PORTAL_TEST_RUN_TAG": tag, "PORTAL_TEST_DATABASE": self.database}

    def fork(self, tag: str, args: list[str], timeout: float) -> tuple[int | None, str, float | None]:
        """Run pytest with `args` as a fork of the server: (return code or None at the timeout, output, CPU
        seconds)."""
        output = self.tree.parent / f"{self.tree.name}.out"
        self.server.stdin.write(json.dumps({"env": self.variables(tag), "args": args, "timeout": timeout,
                                            "output": str(output)}) + "\n")
        self.server.stdin.flush()
        pid = json.loads(self.server.stdout.readline())["pid"]
        _register(pid, tag)
        try:
            line = self.server.stdout.readline()
        finally:
            _LIVE.pop(pid, None)
        if not line:
            raise RuntimeError(f"the fork server in {self.tree} stopped")
        result = json.loads(line)
        text = output.read_text(errors="replace") if output.exists() else ""
        return (None if result["timeout"] else result["returncode"]), text, result.get("cpu")


# Running one selection ------------------------------------------------------------------------------------------

def _environment(**variables) -> dict:
    env = {**os.environ, **variables}
    # Without rabbitmqctl the run shares the broker's vhost under names of its own (README, make test) and
    # costs no vhost to add and delete: three seconds a mutant, and nothing left behind when one is killed.
    env["PATH"] = os.pathsep.join(d for d in env.get("PATH", "").split(os.pathsep)
                                  if d and not os.path.exists(os.path.join(d, "rabbitmqctl")))
    return env


def run_selection(slot: Slot, target: Target, timeout: float, tag: str) -> tuple[str, float, str, float | None]:
    """Run the target's tests in the slot's tree: ('passed' | 'failed' | 'timeout' | 'error', seconds, detail,
    CPU seconds when known)."""
    args = ["-x", "-q", "-p", "no:cacheprovider", "--no-header", "-rfE", "-o", f"timeout={int(timeout)}",
            *target.tests]
    started = time.monotonic()
    try:
        returncode, output, cpu = (slot.fork(tag, args, timeout) if slot.server is not None
                                   else _subprocess(slot, tag, args, timeout))
    finally:
        release(tag)
    if returncode != 0:  # a killed run, or one whose teardown may not have emptied the tables
        empty_database(slot.database)
    seconds = time.monotonic() - started
    if returncode is None:
        return "timeout", seconds, f"no answer in {timeout:.0f} s", cpu
    if returncode == 0:
        return "passed", seconds, "", cpu
    if returncode in (1, 2):  # tests failed, or the mutant broke collection (an import error)
        return "failed", seconds, _first_failure(output), cpu
    return "error", seconds, f"pytest exit {returncode}: {output[-2000:]}", cpu


def _subprocess(slot: Slot, tag: str, args: list[str], timeout: float) -> tuple[int | None, str]:
    process = subprocess.Popen([PYTHON, "-m", "pytest", *args], cwd=slot.tree, env=_environment(**slot.variables(tag)),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    _register(process.pid, tag)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return None, "", None
    finally:
        _LIVE.pop(process.pid, None)
    return process.returncode, output, None


def _first_failure(output: str) -> str:
    for line in output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return line[:300]
    match = re.search(r"^E\s+.*$", output, re.MULTILINE)
    return match.group(0)[:300] if match else output.strip().splitlines()[-1][:300] if output.strip() else ""


def _admin():
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(BASE_DATABASE_URL).set(drivername="postgresql", database="postgres")
    return psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True)


def _in(database: str):
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(BASE_DATABASE_URL).set(drivername="postgresql", database=database)
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


def create_database(name: str) -> None:
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_database(name: str) -> None:
    """Every table of a slot's database emptied (the migrations' version kept), its sessions ended first:
    what a killed run left is gone before the next mutant runs."""
    with _in(name) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        tables = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")]
        if tables:
            conn.execute(f"TRUNCATE {', '.join(chr(34) + t + chr(34) for t in tables)} RESTART IDENTITY CASCADE")


def release(tag: str) -> None:
    """Give back what the run named `tag` took, whether it ended or was killed: its Redis claim (emptied first).
    A run that ended cleanly gave it back itself; then this finds nothing. (Its database is the slot's.)"""
    from redis import Redis

    from tests import isolation

    owner = f"portal-tests-{tag}"
    for number in range(1, 16):
        url = f"{REDIS_SERVER}/{number}"
        if Redis.from_url(url).get(isolation.REDIS_CLAIM_KEY) == owner.encode():
            isolation.release_redis_database(url, owner, empty=True)


def _register(pid: int, tag: str) -> None:
    _LIVE[pid] = tag
    if _STOPPING.is_set():  # started while the run was being interrupted: stopped like the others
        _kill(pid)


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop_all() -> None:
    """An interrupted run kills the pytest processes it started (each its own process group) and gives back
    what they took."""
    for pid, tag in list(_LIVE.items()):
        _kill(pid)
        release(tag)


def _interrupted(signum, frame):
    _STOPPING.set()
    stop_all()
    raise KeyboardInterrupt


def _pool_map(workers: int, function, items) -> None:
    """function(item) for every item, `workers` at a time; an interrupt cancels what has not started and kills
    what runs (its pytest processes), instead of waiting for the queue to drain."""
    pool = ThreadPoolExecutor(workers)
    try:
        for future in [pool.submit(_unless_stopping, function, item) for item in items]:
            future.result()
    except BaseException:
        _STOPPING.set()
        stop_all()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _unless_stopping(function, item):
    if not _STOPPING.is_set():
        function(item)


# Trees ---------------------------------------------------------------------------------------------------------

def copy_tree(destination: Path) -> Path:
    def ignore(directory, names):
        return {n for n in names if n in _NOT_COPIED or n.endswith(".pyc")}

    shutil.copytree(ROOT, destination, ignore=ignore, symlinks=True)
    return destination


def write_source(path: Path, text: str) -> None:
    """Write a module of a slot's tree and drop its cached bytecode: a pyc is checked against the source's
    size and mtime in whole seconds, which a mutant written (or the original put back) within the same
    second, of the same size (`<` for `>`), would match."""
    path.write_text(text, encoding="utf-8")
    cache = path.parent / "__pycache__"
    for stale in cache.glob(f"{path.stem}.*.pyc") if cache.exists() else ():
        stale.unlink()


# The run -------------------------------------------------------------------------------------------------------

class Run:
    def __init__(self, targets: list[Target], jobs: int, check_equivalents: bool, only: dict | None, fork: bool,
                 previous: dict | None = None):
        self.targets, self.jobs, self.check_equivalents, self.only = targets, jobs, check_equivalents, only
        # With --survivors-of: that run's outcomes by module and key, kept for the mutants not run again.
        self.previous = previous or {}
        self.previous_file: str | None = None
        self.fork = fork
        self.run_id = uuid.uuid4().hex[:8]
        self.counter = 0
        self.counter_lock = threading.Lock()
        self.outcomes: dict[str, list[Outcome]] = {t.name: [] for t in targets}
        self.baseline: dict[str, float] = {}
        self.stale: dict[str, list[str]] = {}

    def tag(self) -> str:
        with self.counter_lock:
            self.counter += 1
            return f"mut{self.run_id}_{self.counter}"

    def execute(self) -> None:
        work = Path(tempfile.mkdtemp(prefix="portal-mutation-"))
        slots: list[Slot] = []
        try:
            for n in range(self.jobs):
                slots.append(Slot(copy_tree(work / f"slot{n}"), f"portal_test_mut{self.run_id}_slot{n}"))
                create_database(slots[-1].database)
            if self.fork:
                for slot in slots:
                    slot.start_server()
            self._baseline(slots)
            queue = []
            for target in self.targets:
                source = (ROOT / target.path).read_text(encoding="utf-8")
                found = mutants(target.path, source, target.scopes)
                keys = {m.key for m in found}
                self.stale[target.name] = sorted(k for k in target.equivalent if k not in keys)
                for mutant in found:
                    reason = target.equivalent.get(mutant.key)
                    if self.only is not None and mutant.key not in self.only.get(target.name, ()):
                        earlier = self.previous.get(target.name, {}).get(mutant.key)
                        if earlier is not None:  # not run again: its outcome from the run it was chosen from
                            self.outcomes[target.name].append(Outcome(
                                mutant, earlier["status"], earlier["seconds"], earlier["detail"], earlier.get("cpu"),
                                carried=True))
                        continue
                    if reason and not self.check_equivalents:
                        self.outcomes[target.name].append(Outcome(mutant, "equivalent", detail=reason))
                    else:
                        queue.append((target, mutant, source))
            # The quick modules first: their survivors are known early, and the slow ones end the run together.
            queue.sort(key=lambda item: self.baseline[item[0].name])
            total = len(queue)
            print(f"{total} mutants to run on {self.jobs} trees", flush=True)
            free = list(slots)
            free_lock = threading.Lock()
            done = [0]

            def one(item):
                target, mutant, source = item
                with free_lock:
                    slot = free.pop()
                try:
                    outcome = self._mutant(slot, target, mutant, source)
                finally:
                    with free_lock:
                        free.append(slot)
                with free_lock:
                    done[0] += 1
                    self.outcomes[target.name].append(outcome)
                    if outcome.status not in ("killed",):
                        print(f"[{done[0]}/{total}] {outcome.status:9} {mutant.where} {mutant.change[:100]}",
                              flush=True)
                    elif done[0] % 25 == 0:
                        print(f"[{done[0]}/{total}] ...", flush=True)

            _pool_map(self.jobs, one, queue)
        finally:
            stop_all()
            for slot in slots:
                slot.stop_server()
                drop_database(slot.database)
            shutil.rmtree(work, ignore_errors=True)

    def _baseline(self, slots: list[Slot]) -> None:
        """Each selection must pass on the unchanged tree, or no mutant's result would mean anything."""
        def one(item):
            index, target = item
            slot = slots[index % len(slots)]
            with slot.lock:
                status, seconds, detail, _ = run_selection(slot, target, 900, self.tag())
            self.baseline[target.name] = seconds
            print(f"baseline {target.name}: {status} in {seconds:.1f} s", flush=True)
            if status != "passed":
                raise SystemExit(f"the tests of {target.name} do not pass unmutated: {detail}")

        _pool_map(len(slots), one, list(enumerate(self.targets)))

    def _mutant(self, slot: Slot, target: Target, mutant: Mutant, source: str) -> Outcome:
        timeout = 2 * self.baseline[target.name] + 10
        path = slot.tree / mutant.path
        write_source(path, mutant.apply(source))
        try:
            status, seconds, detail, cpu = run_selection(slot, target, timeout, self.tag())
        finally:
            write_source(path, source)
        reason = target.equivalent.get(mutant.key)
        if status == "passed":
            return Outcome(mutant, "equivalent" if reason else "survived", seconds, reason or "", cpu)
        if status == "failed":
            detail = f"{detail} (listed as equivalent: {reason})" if reason else detail
            return Outcome(mutant, "killed", seconds, detail, cpu)
        return Outcome(mutant, status, seconds, detail, cpu)  # timeout (killed) or error


# Report --------------------------------------------------------------------------------------------------------

def summary(run: Run) -> list[dict]:
    rows = []
    for target in run.targets:
        outcomes = run.outcomes[target.name]
        count = {s: sum(o.status == s for o in outcomes) for s in ("killed", "timeout", "survived", "equivalent",
                                                                   "error")}
        real = len(outcomes) - count["equivalent"] - count["error"]
        killed = count["killed"] + count["timeout"]
        rows.append({"module": target.name, "mutants": len(outcomes), "killed": killed, "timeouts": count["timeout"],
                     "equivalent": count["equivalent"], "survived": count["survived"], "errors": count["error"],
                     "score": round(100 * killed / real, 1) if real else 100.0})
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| module | mutants | killed | equivalent | survived | score |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        killed = f"{r['killed']}" + (f" ({r['timeouts']} by timeout)" if r["timeouts"] else "")
        errors = f", {r['errors']} errors" if r["errors"] else ""
        lines.append(f"| {r['module']} | {r['mutants']} | {killed} | {r['equivalent']} | {r['survived']}{errors} "
                     f"| {r['score']:.1f} % |")
    total = {k: sum(r[k] for r in rows) for k in ("mutants", "killed", "equivalent", "survived", "errors")}
    real = total["mutants"] - total["equivalent"] - total["errors"]
    score = 100 * total["killed"] / real if real else 100.0
    lines.append(f"| all | {total['mutants']} | {total['killed']} | {total['equivalent']} | {total['survived']} "
                 f"| {score:.1f} % |")
    return "\n".join(lines)


def markdown(run: Run, rows: list[dict], started: datetime, seconds: float) -> str:
    cpu = sum(o.cpu or 0 for outcomes in run.outcomes.values() for o in outcomes if not o.carried)
    cores = os.cpu_count() or 1
    out = [f"# Mutation run {started:%Y-%m-%d %H:%M} UTC", "",
           f"{seconds / 60:.1f} min wall clock on {cores} cores, {run.jobs} mutants at a time. The mutants' pytest "
           f"processes took {cpu / 60:.1f} CPU minutes, PostgreSQL's own not counted ({cpu / 60 / cores:.1f} min "
           f"on these cores were they idle); load average at the end: {os.getloadavg()[0]:.1f}.", "",
           table(rows), ""]
    if run.previous_file:
        out[3:3] = [f"Only the survivors of `{run.previous_file}` were run again (against the tests of now); every "
                    "other outcome is that run's (and so are its times, in the JSON)."]
    for target in run.targets:
        outcomes = sorted(run.outcomes[target.name], key=lambda o: (o.mutant.line, o.mutant.key))
        survivors = [o for o in outcomes if o.status in ("survived", "error")]
        equivalent = [o for o in outcomes if o.status == "equivalent"]
        out.append(f"## {target.name} (`{target.path}`, baseline {run.baseline.get(target.name, 0):.1f} s)")
        out.append("")
        out.append("Tests: " + ", ".join(f"`{t}`" for t in target.tests))
        out.append("")
        if survivors:
            out.append("Survived:")
            out += [f"- `{o.mutant.where}` {o.mutant.operator}: `{o.mutant.change}` ({o.mutant.scope})"
                    + (f" — error: {o.detail[:200]}" if o.status == "error" else "") for o in survivors]
            out.append("")
        if equivalent:
            out.append("Equivalent (not counted):")
            out += [f"- `{o.mutant.where}` `{o.mutant.change}` ({o.mutant.scope}): {o.detail}" for o in equivalent]
            out.append("")
        if run.stale.get(target.name):
            out.append("Listed as equivalent but no longer made (remove from targets.py):")
            out += [f"- `{k}`" for k in run.stale[target.name]]
            out.append("")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--module", action="append", help="only this target (repeatable); names in targets.py")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run side by side, each in its own tree")
    parser.add_argument("--list", action="store_true", help="print the mutants and stop")
    parser.add_argument("--check-equivalents", action="store_true",
                        help="run the mutants listed as equivalent too (a killed one is a wrong entry)")
    parser.add_argument("--no-fork", action="store_true",
                        help="start every pytest as a new interpreter instead of a fork of a preloaded one")
    parser.add_argument("--survivors-of", type=Path,
                        help="a results JSON: run only the mutants that survived (or erred) in it")
    args = parser.parse_args(argv)

    targets = [t for t in TARGETS if not args.module or t.name in args.module]
    if args.module and len(targets) != len(set(args.module)):
        parser.error(f"unknown module; choose from {', '.join(t.name for t in TARGETS)}")
    if args.list:
        for target in targets:
            found = mutants(target.path, (ROOT / target.path).read_text(encoding="utf-8"), target.scopes)
            print(f"## {target.name}: {len(found)} mutants")
            for m in found:
                mark = "  [equivalent]" if m.key in target.equivalent else ""
                print(f"{m.where:55} {m.operator:20} {m.key}{mark}")
        return 0
    only = previous = None
    if args.survivors_of:
        # The survivors (and errors) run again against today's tests; every other outcome is carried over, so
        # the report is the whole module's. A mutant the earlier run did not make (the source changed) is
        # left out: run everything again for a true count.
        earlier = json.loads(args.survivors_of.read_text())
        previous = {name: {o["key"]: o for o in module["outcomes"]} for name, module in earlier["modules"].items()}
        only = {name: {key for key, o in outcomes.items() if o["status"] in ("survived", "error")}
                for name, outcomes in previous.items()}
        targets = [t for t in targets if t.name in previous]

    started, clock = datetime.now(UTC), time.monotonic()
    run = Run(targets, args.jobs, args.check_equivalents, only, fork=not args.no_fork, previous=previous)
    run.previous_file = args.survivors_of.name if args.survivors_of else None
    signal.signal(signal.SIGTERM, _interrupted)
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>`: where every thread of a run that seems stuck is
    run.execute()
    seconds = time.monotonic() - clock
    rows = summary(run)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"mutation-{started:%Y%m%dT%H%M%SZ}"
    report = markdown(run, rows, started, seconds)
    stem.with_suffix(".md").write_text(report + "\n", encoding="utf-8")
    stem.with_suffix(".json").write_text(json.dumps({
        "started": started.isoformat(), "seconds": round(seconds, 1), "jobs": args.jobs, "summary": rows,
        "baseline_seconds": run.baseline,
        "modules": {t.name: {"path": t.path, "tests": list(t.tests),
                             "outcomes": [o.as_json() for o in run.outcomes[t.name]]} for t in targets},
    }, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print()
    print(report)
    print(f"\nwritten: {stem.with_suffix('.md').relative_to(ROOT)} and .json ({seconds / 60:.1f} min)")
    failing = [r["module"] for r in rows if r["score"] < 90 or r["errors"]]
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
