"""Errors of the JSON API as RFC 9457 problem documents (application/problem+json)."""
import logging

from flask import current_app, json, request
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed, NotFound

from portal.billing.errors import BillingError
from portal.extensions import db

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
API_PREFIX = "/api/v1"

# Problem types this API defines. They are tag URIs (RFC 4151): stable identifiers, not meant to be
# dereferenced (RFC 9457 §3.1.1); generic HTTP failures use "about:blank" with the status phrase as title.
_TYPE_BASE = "tag:billing.cinema,2025:problems/"
PROBLEM_TYPES = {
    "malformed-body": "The request body is not well-formed JSON",
    "validation-failed": "The request has invalid fields",
    "unauthorized": "Missing or invalid bearer token",
    "insufficient-scope": "The token lacks the scope this request needs",
    "not-found": "No such resource",
    "state-conflict": "Not allowed in the resource's current state",
    "unsupported-media-type": "Unsupported media type",
    "idempotency-key-reused": "Idempotency-Key reused with a different request",
    "idempotency-key-in-flight": "A request with this Idempotency-Key is still being processed",
    "invalid-idempotency-key": "Invalid Idempotency-Key header",
    "concurrent-change": "Conflicting concurrent change",
}


def type_uri(slug: str) -> str:
    return _TYPE_BASE + slug


class ApiProblem(Exception):
    """Raised anywhere below a view to end the request with a problem document."""

    def __init__(self, status: int, detail: str, *, slug: str | None = None, errors: list | None = None,
                 headers: dict | None = None):
        super().__init__(detail)
        self.status, self.detail, self.slug, self.errors, self.headers = status, detail, slug, errors, headers or {}

    def body(self) -> dict:
        if self.slug is None:
            doc = {"type": "about:blank", "title": _status_phrase(self.status)}
        else:
            doc = {"type": type_uri(self.slug), "title": PROBLEM_TYPES[self.slug]}
        doc.update(status=self.status, detail=self.detail)
        if self.errors:
            doc["errors"] = self.errors
        return doc


def _status_phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(problem: ApiProblem):
    return make_problem_response(problem.body(), problem.headers)


def make_problem_response(body: dict, headers: dict | None = None):
    response = current_app.response_class(json.dumps(body), status=body["status"], mimetype=PROBLEM_MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def as_problem(exc: Exception) -> ApiProblem:
    """The problem for an error a view ended in; unexpected exceptions are not handled here."""
    if isinstance(exc, ApiProblem):
        return exc
    if isinstance(exc, BillingError):
        slug = {404: "not-found", 409: "state-conflict", 422: "validation-failed",
                503: "provider-unavailable"}.get(exc.status)
        return ApiProblem(exc.status, exc.message, slug=slug)
    if isinstance(exc, HTTPException):
        return _http_problem(exc)
    raise TypeError(f"not an API error: {exc!r}")


def _http_problem(exc: HTTPException) -> ApiProblem:
    status = exc.code or 500
    headers = {}
    if isinstance(exc, NotFound):
        detail = (f"{request.method} {request.path} is not an endpoint of this API; "
                  f"the endpoints are listed in {API_PREFIX}/openapi.json")
    elif isinstance(exc, MethodNotAllowed):
        allowed = sorted(set(exc.valid_methods or ()) - {"OPTIONS"})
        headers["Allow"] = ", ".join(exc.valid_methods or ())
        detail = f"{request.path} does not accept {request.method}; use {' or '.join(allowed)}"
    elif status >= 500:
        detail = "the server failed to handle this request; it was logged, retrying later may help"
    else:
        detail = exc.description or _status_phrase(status)
    return ApiProblem(status, detail, headers=headers)


def _is_api_request() -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def _rollback():
    # Whatever the view flushed before failing must not reach a later commit on the same session.
    db.session.rollback()


def register(bp):
    """Error handlers: on the blueprint for its own routes, and app-wide (by path prefix) for routing
    failures under /api/v1, which Flask reports before any blueprint is chosen."""

    @bp.errorhandler(ApiProblem)
    @bp.errorhandler(BillingError)
    def handle_api_error(exc):
        _rollback()
        return problem_response(as_problem(exc))

    @bp.errorhandler(HTTPException)
    def handle_http_error(exc):
        if isinstance(exc, InternalServerError):
            return handle_internal_error(exc)
        _rollback()
        return problem_response(_http_problem(exc))

    @bp.errorhandler(InternalServerError)
    def handle_internal_error(exc):
        # Reached for unhandled exceptions when they are not propagated (production): no internals leak.
        _rollback()
        log.error("unhandled error in %s %s", request.method, request.path,
                  exc_info=getattr(exc, "original_exception", None) or exc)
        return problem_response(ApiProblem(500, _http_problem(InternalServerError()).detail))

    def routing_error_for_api(exc, previous):
        if _is_api_request():
            return problem_response(_http_problem(exc))
        return previous(exc) if previous is not None else exc

    @bp.record_once
    def install_app_handlers(state):
        app = state.app
        for code in (404, 405):
            # Keep a page handler registered before us working for every other path.
            previous = app.error_handler_spec.get(None, {}).get(code, {}).get(
                NotFound if code == 404 else MethodNotAllowed)
            app.register_error_handler(code, lambda exc, previous=previous: routing_error_for_api(exc, previous))
