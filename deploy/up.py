"""`make up` / `make down`: the production topology of the Procfile on this machine, run by honcho.

up: settings from deploy/portal.env (made from deploy/portal.env.example with fresh secrets the first
time; the environment of the call wins over the file), checks that the provider's limit holds, creates
the database if missing, migrates, declares the RabbitMQ topology (before any process can publish: an
event published before its queue is bound is dropped), seeds the demo catalogue and accounts, then
starts honcho in the background (every Procfile process, WORKERS workers) and waits until the portal
and the sandbox answer. Logs go to <UP_DIR>/topology.log, honcho's pid to <UP_DIR>/honcho.pid.
down: stops that honcho and every process it started (their process group).

UP_DIR (default instance/up) and PORTAL_ENV_FILE (default deploy/portal.env) let a test run a topology
of its own beside a developer's."""
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "deploy" / "portal.env.example"
BIN = Path(sys.executable).parent
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def up_dir() -> Path:
    return Path(os.environ.get("UP_DIR") or ROOT / "instance" / "up")


def env_file() -> Path:
    return Path(os.environ.get("PORTAL_ENV_FILE") or ROOT / "deploy" / "portal.env")


def read_env(path: Path) -> dict:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def make_env_file(path: Path) -> None:
    """The example with a fresh random value for each `generate`, readable by its owner only."""
    text = EXAMPLE.read_text()
    text = re.sub(r"^([A-Z_]+)=generate$", lambda m: f"{m.group(1)}={secrets.token_urlsafe(32)}", text, flags=re.M)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    print(f"make up: wrote {path} from {EXAMPLE.name} with fresh secrets; edit it to change the settings")


def settings() -> dict:
    path = env_file()
    if not path.exists():
        make_env_file(path)
    values = read_env(path)
    values.update({k: v for k, v in os.environ.items() if k in values or k in ("HOST", "PORT")})
    for _ in range(5):  # ${NAME} references, a few levels deep
        values = _expanded(values)
    values.setdefault("PROMETHEUS_MULTIPROC_DIR", str(up_dir() / "metrics"))
    if not os.path.isabs(values["PROMETHEUS_MULTIPROC_DIR"]):
        values["PROMETHEUS_MULTIPROC_DIR"] = str(ROOT / values["PROMETHEUS_MULTIPROC_DIR"])
    return values


def _expanded(values: dict) -> dict:
    return {k: _REFERENCE.sub(lambda m: values.get(m.group(1), ""), v) for k, v in values.items()}


def refuse_unsafe_limits(env: dict) -> None:
    """Every worker's calls together stay under the sandbox terminal's limit, or nothing starts."""
    from portal.config import DEFAULT_PROVIDER_CONCURRENCY

    ours = int(env.get("PROVIDER_CONCURRENCY") or DEFAULT_PROVIDER_CONCURRENCY)
    theirs = int(env.get("SANDBOX_CONCURRENCY_LIMIT") or 5)
    if env.get("PAYMENT_PROVIDER", "sandbox") == "sandbox" and ours > theirs:
        raise SystemExit(f"make up: PROVIDER_CONCURRENCY={ours} exceeds SANDBOX_CONCURRENCY_LIMIT={theirs}: the "
                         "workers together would get 429s; lower PROVIDER_CONCURRENCY or raise the sandbox's limit")


def create_database(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = target.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{target.database}"')
            print(f"make up: created database {target.database}")


def process_env(env: dict) -> dict:
    return {**os.environ, **env, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def run(env: dict, *argv) -> str:
    done = subprocess.run(argv, cwd=ROOT, env=process_env(env), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"make up: {' '.join(argv[:3])} failed:\n{done.stderr.strip()}")
    return done.stdout


def wait_for(url: str, seconds: float, honcho: subprocess.Popen, log: Path) -> None:
    import requests

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if honcho.poll() is not None:
            raise SystemExit(f"make up: the topology stopped (exit {honcho.returncode}); its log:\n"
                             + log.read_text()[-4000:])
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"make up: {url} did not answer within {seconds:g}s; see {log}")


def up() -> None:
    env = settings()
    refuse_unsafe_limits(env)
    folder = up_dir()
    folder.mkdir(parents=True, exist_ok=True)
    pid_file = folder / "honcho.pid"
    if pid_file.exists() and _alive(int(pid_file.read_text())):
        raise SystemExit(f"make up: already running (honcho pid {pid_file.read_text().strip()}); `make down` first")
    metrics = Path(env["PROMETHEUS_MULTIPROC_DIR"])  # empty at start: old processes' values would add up
    metrics.mkdir(parents=True, exist_ok=True)
    for stale in metrics.glob("*.db"):
        stale.unlink()
    create_database(env["DATABASE_URL"])
    run(env, str(BIN / "flask"), "db", "upgrade")
    declared = run(env, str(BIN / "flask"), "bus", "topology")
    print(f"make up: RabbitMQ topology declared ({_names(declared)})")
    demo = run(env, str(BIN / "flask"), "seed-demo")
    resolved = folder / "portal.env"  # what honcho gives every process (the environment's values included)
    fd = os.open(resolved, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.writelines(f"{k}={v}\n" for k, v in env.items())
    log = folder / "topology.log"
    with log.open("ab") as out:
        honcho = subprocess.Popen(
            [str(BIN / "honcho"), "start", "--no-colour", "-f", str(ROOT / "Procfile"), "-e", str(resolved),
             "-p", env.get("PORT", "8000"), "-c", f"worker={env.get('WORKERS', '2')}"],
            cwd=ROOT, env=process_env(env), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    pid_file.write_text(f"{honcho.pid}\n")
    web = f"http://{env.get('HOST', '127.0.0.1')}:{env.get('PORT', '8000')}"
    wait_for(f"{env['SANDBOX_URL']}/", 60, honcho, log)
    wait_for(f"{web}/healthz", 60, honcho, log)
    print(f"make up: portal {web} · sandbox {env['SANDBOX_URL']} · metrics {web}/metrics · logs {log}")
    print("\n".join(line for line in demo.splitlines() if "login" in line))
    print("make up: `make down` stops every process")


def _names(spec: str) -> str:
    import json

    try:
        found = json.loads(spec)
    except ValueError:
        return "see `flask bus topology`"
    return ", ".join(item["name"] for key in ("exchanges", "queues") for item in found.get(key, []) if "name" in item)


def down() -> None:
    pid_file = up_dir() / "honcho.pid"
    if not pid_file.exists():
        print("make down: nothing running")
        return
    pid = int(pid_file.read_text())
    if _alive(pid):
        os.killpg(pid, signal.SIGTERM)  # honcho and every process it started share its session
        deadline = time.monotonic() + 20
        while _group_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _group_alive(pid):
            os.killpg(pid, signal.SIGKILL)
    pid_file.unlink()
    print("make down: stopped")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].split("\n", 1)[0].lower()
    except (OSError, IndexError):
        return ""


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return any(_pgid(pid) == pgid and "zombie" not in _state(pid)
               for pid in map(int, filter(str.isdigit, os.listdir("/proc"))))


def _pgid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[2])
    except (OSError, IndexError, ValueError):
        return None


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    {"up": up, "down": down}[sys.argv[1] if len(sys.argv) > 1 else "up"]()
