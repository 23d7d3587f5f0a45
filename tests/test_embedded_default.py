"""`make run` as a user runs it: no services, SQLite under the instance folder, the plan page served."""
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_run_migrates_seeds_and_serves_the_plans(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "AMQP_URL", "SECRET_KEY", "FLASK_APP")}
    env["PORTAL_INSTANCE"] = str(tmp_path)
    log = (tmp_path / "run.log").open("w+")
    proc = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        page = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                page = requests.get(f"http://127.0.0.1:{port}/", headers={"Accept-Language": "ru"}, timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.5)
        log.seek(0)
        output = log.read()
        assert page is not None, f"make run did not serve the portal:\n{output}"
        assert page.status_code == 200
        text = page.text.replace("\xa0", " ")
        assert "299,00 ₽" in text and "2 990,00 ₽" in text and "599,00 ₽" in text
        assert "customer@demo.cinema" in output  # the seeded logins are printed for the user
        assert (tmp_path / "portal.sqlite3").exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
