"""What a log line is about: the request id of the web request that started the work (carried into the
jobs it enqueues, and theirs), the job, and the invoice, subscription, customer and provider transaction
ids of the rows being worked on. Context variables, so threads and requests never mix theirs."""
import contextvars
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import timedelta

from portal import clock

log = logging.getLogger("portal.jobs")
_fields: ContextVar[dict | None] = ContextVar("log_context", default=None)
# An incoming X-Request-ID is kept if it looks like an id (a proxy's or the caller's), else a new one is made.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")
META_KEY = "request_id"
# Row types whose id a log line names, by table name: the column becomes `<entity>_id`.
_ENTITIES = {"subscriptions": "subscription_id", "invoices": "invoice_id", "payments": "payment_id",
             "refunds": "refund_id", "webhook_events": "notification_id"}


def fields() -> dict:
    return _fields.get() or {}


def bind(**values) -> None:
    """Add to the current context (values that are None are left out)."""
    _fields.set({**fields(), **{k: v for k, v in values.items() if v is not None}})


def start(**values) -> None:
    """A new unit of work (a request, a job): nothing of the previous one's context stays, nor its clock."""
    _fields.set({k: v for k, v in values.items() if v is not None})
    clock.set_customer_shift(timedelta(0))


def request_id() -> str | None:
    return fields().get("request_id")


def new_request_id(incoming: str | None) -> str:
    if incoming and _REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def bind_row(row) -> None:
    """A locked row of a lifecycle: name it, and its customer, in the context. A unit of work that locks a
    second one of a kind (a batch) names none: a line must not name a row it is not about."""
    name = _ENTITIES.get(getattr(row, "__tablename__", ""))
    if not name:
        return
    current = fields()
    values = {name: row.id, "customer_id": getattr(row, "customer_id", None),
              "transaction_id": getattr(row, "provider_transaction_id", None) or getattr(row, "transaction_id", None)}
    _fields.set({**current, **{k: v for k, v in values.items() if k not in current and v is not None}})
    clashing = [k for k, v in values.items() if k in current and current[k] != v]
    if clashing:
        _fields.set({k: v for k, v in fields().items() if k not in clashing} | {"batch": True})


def carried(fn):
    """`fn` for a thread pool: each call runs in a copy of this context (a pool's threads have their own)."""
    context = contextvars.copy_context()

    def run(*args, **kwargs):
        return context.copy().run(fn, *args, **kwargs)
    return run


def job_meta() -> dict:
    """What a job enqueued now carries of this context."""
    rid = request_id()
    return {"meta": {META_KEY: rid}} if rid else {}


def start_job() -> None:
    """Called as an RQ job begins: its id, its function, and the request id it was enqueued under."""
    try:
        from rq import get_current_job

        current = get_current_job()
    except Exception:  # outside a worker (embedded thread, a test calling the job function)
        current = None
    if current is None:
        start(request_id=request_id())
        return
    start(request_id=(current.meta or {}).get(META_KEY), job_id=current.id, job=current.func_name)
    log.info("job %s started", current.func_name)
