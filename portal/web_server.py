"""gunicorn's settings for the `web` process: `gunicorn --config python:portal.web_server wsgi:app`.

Sync workers, (2 x cores) + 1 of them unless WEB_CONCURRENCY says otherwise (gunicorn's own starting
point). A sync worker is idle while its request waits on PostgreSQL or Redis, and the provider's
notifications wait on a synchronous COMMIT each: with only one worker per core, those waits leave the
cores unused. Measured on 2 cores (bench/README.md, items 1 and 4): 5 workers against 2 take 17-19 % more
Pay notifications per second, and serve /healthz and the entitlement read 5-8 % slower, the price of
more processes sharing two cores for requests that hardly wait."""
import os

# gunicorn (23) answers `Server: gunicorn`, without its version, and has no setting for it; the version it
# keeps in SERVER_SOFTWARE stays inside the WSGI environ. tests/test_web_server.py holds the header there.

workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * (os.cpu_count() or 1) + 1)
# HOST and PORT say where `web` listens (default every interface, port 8000): `make up` binds 127.0.0.1.
bind = f"{os.environ.get('HOST') or '0.0.0.0'}:{os.environ.get('PORT') or 8000}"
# When an access log is asked for (--access-logfile): the path without its query string, which for a GET
# notification (a cabinet option) holds its fields, the card token among them.
# JSON lines from the arbiter too (LOG_FORMAT=json, as the app's own: portal/ops/logs.py).
if os.environ.get("LOG_FORMAT") == "json":
    logconfig_dict = {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"json": {"()": "portal.ops.logs.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "loggers": {"gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False}},
        "root": {"level": "INFO", "handlers": []},
    }
access_log_format = '%(h)s - - %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)s'


def child_exit(server, worker):
    # Multiprocess metrics: a dead worker's live values go; what it counted stays counted. Imported when
    # the settings load: the arbiter must not import a package inside a signal handler.
    if _multiprocess is not None:
        _multiprocess.mark_process_dead(worker.pid)


if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    from prometheus_client import multiprocess as _multiprocess
else:
    _multiprocess = None
