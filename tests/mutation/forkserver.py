"""A pytest runner that starts each run as a fork of a process that has already imported the libraries (Flask,
SQLAlchemy, psycopg, pytest...), never the project: each run imports portal and the tests afresh from the tree,
so it sees the mutant written there, and saves the second of library imports a new interpreter would pay.

Started by tests/mutation/run.py in a mutant's tree (`python -m tests.mutation.forkserver`); reads one JSON
command a line ({"env", "args", "timeout", "output"}) and answers {"pid"} when the run starts, then
{"returncode", "timeout", "cpu"} when it ends or is killed at its timeout (its process group: it runs in a session
of its own)."""
import importlib
import json
import os
import signal
import sys
import time

# Libraries only: nothing that imports portal or tests.
PRELOADED = ("flask", "flask_sqlalchemy", "flask_migrate", "flask_babel", "sqlalchemy", "sqlalchemy.orm", "psycopg",
             "alembic", "statemachine", "babel.numbers", "babel.dates", "redis", "rq", "pika", "requests",
             "werkzeug", "jinja2", "cryptography.fernet", "aiosmtpd.controller", "pytest", "_pytest.python")


def main() -> None:
    for name in PRELOADED:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    assert not any(m == "portal" or m.startswith(("portal.", "tests.conftest")) for m in sys.modules)
    _answer({"ready": True})
    for line in sys.stdin:
        command = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(command)
        _answer({"pid": pid})
        _answer(_wait(pid, command["timeout"]))


def _child(command) -> None:
    try:
        os.setsid()
        os.environ.update(command["env"])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        out = os.open(command["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.dup2(out, 2)
        import pytest

        code = pytest.main(command["args"])
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(code))
    except BaseException:  # a child must never return into the server's loop
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        os._exit(3)


def _wait(pid: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return {"returncode": os.waitstatus_to_exitcode(status), "timeout": False, "cpu": _cpu(usage)}
        if time.monotonic() > deadline:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, _, usage = os.wait4(pid, 0)
            return {"returncode": None, "timeout": True, "cpu": _cpu(usage)}
        time.sleep(0.05)


def _cpu(usage) -> float:
    """The run's CPU seconds (user and system): what it costs on an idle machine, however busy this one is."""
    return round(usage.ru_utime + usage.ru_stime, 3)


def _answer(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
