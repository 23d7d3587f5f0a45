"""Structured logs: one JSON object a line on stderr, with the context of portal/ops/context.py (request
id, job, invoice, subscription, customer, transaction ids). LOG_FORMAT=json (the default outside the
embedded default) or text; LOG_LEVEL (default INFO).

Nothing secret reaches a line: SQL parameters are hidden by the engine options (portal/config.py), the
card token and the API secret are never logged by our code, and as a last guard any value that looks
like a saved-card token or an Authorization header is masked here."""
import json
import logging
import re
import sys
from datetime import UTC, datetime

from portal.ops import context

_CONFIGURED = "_portal_json_handler"
# A sandbox token (tk_…), a CloudPayments token in a message, an Authorization header or a password field.
_SECRETS = re.compile(r"(tk_[A-Za-z0-9]{6,}|(?i:authorization:\s*\S+\s+)\S+|(?i:(password|secret|token)=)[^\s&,]+)")
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {"message", "asctime", "taskName"}


def mask(text: str) -> str:
    return _SECRETS.sub(lambda m: m.group(0)[:3] + "…" if m.group(0).startswith("tk_") else "[masked]", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask(record.getMessage()),
            **context.fields(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value if isinstance(value, int | float | bool | None) else mask(str(value))
        if record.exc_info:
            line["error"] = mask(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(config) -> None:
    """Once per process: the root logger writes JSON lines (or plain text) to stderr."""
    root = logging.getLogger()
    if any(getattr(h, _CONFIGURED, False) for h in root.handlers):
        return
    fmt = str(config.get("LOG_FORMAT") or ("text" if _embedded_or_testing(config) else "json"))
    if fmt != "json":
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    setattr(handler, _CONFIGURED, True)
    for old in [h for h in root.handlers if isinstance(h, logging.StreamHandler) and not _is_pytest(h)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(str(config.get("LOG_LEVEL") or "INFO").upper())
    # RQ and gunicorn add their own text handlers; their lines go through ours instead.
    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] in ("rq", "gunicorn")]
    for name in names:
        if name == "gunicorn.access":
            continue
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if not _is_pytest(h)]:
            logger.removeHandler(old)
        logger.propagate = True


def _embedded_or_testing(config) -> bool:
    if "EMBEDDED" in config:
        return bool(config.get("EMBEDDED") or config.get("TESTING"))
    return not config.get("DATABASE_URL")  # the environment itself (`rq cron`): configured once DATABASE_URL is


def _is_pytest(handler) -> bool:
    return type(handler).__module__.startswith("_pytest")
