"""The Idempotency-Key header on POSTs, with Stripe's semantics: a repeat gets the first answer, a key
reused for another request is refused (422), and a repeat while the first is still running is refused (409).

A key is claimed in a short transaction of its own, so concurrent repeats see it at once; the answer is
stored in the same transaction as the work, so a stored answer always describes committed work."""
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from functools import wraps

from flask import current_app, g, request
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from portal.api.bodies import parse_json, raw_body
from portal.api.openapi import IDEMPOTENCY_KEY_PATTERN
from portal.api.problems import PROBLEM_MEDIA_TYPE, ApiProblem, as_problem, problem_response
from portal.billing.errors import BillingError
from portal.extensions import db
from portal.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_LIFETIME = timedelta(hours=24)
# A claim older than this whose answer never came belongs to a process that died: it may be taken over.
ABANDONED_AFTER = timedelta(minutes=5)
# Answers to requests that were never understood are not kept, so the caller may fix the request and
# send it again under the same key (Stripe does the same for validation failures).
NOT_STORED = {400, 413, 415, 422}

# Unique constraints a request may run into, and what to tell the caller when it does.
_CONSTRAINT_HINTS = {
    "uq_users_email": "this email address already belongs to another customer (with a different external_id)",
    "uq_users_external_id": "another request created this customer at the same moment; send the request again",
}


def _now() -> datetime:
    # Wall time, not the billing clock: keys are about HTTP retries, not billing periods.
    return datetime.now(UTC)


def _key_from_header() -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key):
        raise ApiProblem(400, f"{HEADER} must be 1 to 255 printable ASCII characters with no space at either "
                              "end; a UUID is a good choice",
                         slug="invalid-idempotency-key")
    return key


def request_fingerprint(raw: bytes) -> str:
    """sha256 of the body: of its canonical JSON when it parses, so key order and spacing do not matter."""
    try:
        canonical = json.dumps(parse_json(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except ApiProblem:
        canonical = raw
    return hashlib.sha256(canonical).hexdigest()


def integrity_problem(exc: IntegrityError) -> ApiProblem:
    constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
    hint = _CONSTRAINT_HINTS.get(constraint, "another request changed the same records at the same moment; "
                                             "send the request again")
    return ApiProblem(409, hint, slug="concurrent-change")


def _json_response(body: dict, status: int):
    mimetype = PROBLEM_MEDIA_TYPE if status >= 400 else "application/json"
    return current_app.response_class(json.dumps(body), status=status, mimetype=mimetype)


def _run_view(view, kwargs) -> tuple[dict, int]:
    """The view's (body, status); its errors as problems, the session rolled back. Its work is flushed,
    not committed: the caller commits it together with the stored answer."""
    try:
        body, status = view(**kwargs)
        db.session.flush()
        return body, status
    except IntegrityError as exc:
        db.session.rollback()
        raise integrity_problem(exc) from exc
    except (ApiProblem, BillingError) as exc:
        db.session.rollback()
        raise as_problem(exc) from exc


def idempotent(view):
    """For POST views returning (body, status): commit their work, honour Idempotency-Key."""

    @wraps(view)
    def run(**kwargs):
        key = _key_from_header()
        g.idempotency_key = key
        if key is None:
            body, status = _run_view(view, kwargs)
            _commit()
            return _json_response(body, status)

        fingerprint = request_fingerprint(raw_body())
        claimed = _claim(g.api_client, key, request.method, request.path, fingerprint)
        if isinstance(claimed, IdempotencyKey):
            response = _json_response(claimed.response_body, claimed.response_status)
            response.headers[REPLAYED_HEADER] = "true"
            return response
        try:
            try:
                body, status = _run_view(view, kwargs)
            except ApiProblem as problem:
                if problem.status in NOT_STORED:
                    raise
                body, status = problem.body(), problem.status
            _store(claimed, status, body)
            _commit()
        except ApiProblem as problem:
            _release(claimed)
            return problem_response(problem)
        except BaseException:
            db.session.rollback()
            _release(claimed)
            raise
        return _json_response(body, status)

    return run


def _commit():
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise integrity_problem(exc) from exc


def _claim(client: str, key: str, method: str, path: str, fingerprint: str) -> int | IdempotencyKey:
    """The id of the row this request now owns, or the finished row whose answer is to be replayed."""
    table = IdempotencyKey.__table__
    now = _now()
    with db.engine.begin() as conn:
        insert = _dialect_insert(conn)(table).values(
            client=client, key=key, method=method, path=path, request_hash=fingerprint, locked=True, created_at=now)
        row_id = conn.execute(insert.on_conflict_do_nothing(
            index_elements=["client", "key"]).returning(table.c.id)).scalar()
        if row_id is not None:
            return row_id
        row = conn.execute(select(table).where(table.c.client == client, table.c.key == key)
                           .with_for_update()).one()
        expired = row.created_at < now - KEY_LIFETIME
        abandoned = row.locked and row.created_at < now - ABANDONED_AFTER
        if expired or abandoned:
            conn.execute(update(table).where(table.c.id == row.id).values(
                method=method, path=path, request_hash=fingerprint, locked=True, created_at=now,
                response_status=None, response_body=None))
            return row.id
    if (row.method, row.path) != (method, path):
        raise ApiProblem(422, f"{HEADER} {key!r} was used for {row.method} {row.path} in the last 24 hours; "
                              "use a new key for every distinct request", slug="idempotency-key-reused")
    if row.request_hash != fingerprint:
        raise ApiProblem(422, f"{HEADER} {key!r} was used with a different body in the last 24 hours; "
                              "resend the original body, or use a new key for a new request",
                         slug="idempotency-key-reused")
    if row.locked:
        raise ApiProblem(409, f"a request with {HEADER} {key!r} is still being processed; retry in a moment "
                              "to get its answer", slug="idempotency-key-in-flight")
    return IdempotencyKey(response_status=row.response_status, response_body=row.response_body)


def _dialect_insert(conn):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _store(row_id: int, status: int, body: dict) -> None:
    db.session.execute(update(IdempotencyKey).where(IdempotencyKey.id == row_id).values(
        response_status=status, response_body=body, locked=False))


def _release(row_id: int) -> None:
    with db.engine.begin() as conn:
        conn.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id, IdempotencyKey.locked.is_(True)))
