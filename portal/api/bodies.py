"""Reading a POST body: JSON only, well-formed (400), of the declared shape (422 with field errors)."""
import json

from flask import request

from portal.api.openapi import request_validator
from portal.api.problems import ApiProblem

MAX_BODY_BYTES = 64 * 1024
_JSON_TYPES = ("application/json",)


def _is_json_mimetype(mimetype: str) -> bool:
    return mimetype in _JSON_TYPES or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def raw_body() -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiProblem(413, f"the body is {request.content_length} bytes; at most {MAX_BODY_BYTES} are accepted")
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY_BYTES:
        raise ApiProblem(413, f"the body is {len(raw)} bytes; at most {MAX_BODY_BYTES} are accepted")
    return raw


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _lone_surrogate(document):
    """Where the document holds a string with a lone UTF-16 surrogate ("\\ud800"), which JSON's escapes can
    spell but no Unicode text contains (nor can PostgreSQL store): (path, the code), or None. Walked without
    recursion: json.loads admits nesting as deep as Python's recursion limit."""
    pending = [((), document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            bad = next((ch for ch in value if "\ud800" <= ch <= "\udfff"), None)
            if bad:
                return path, bad
        elif isinstance(value, dict):
            pending.extend((path, key) for key in value)
            pending.extend(((*path, key), item) for key, item in value.items())
        elif isinstance(value, list):
            pending.extend(((*path, index), item) for index, item in enumerate(value))
    return None


def parse_json(raw: bytes):
    """The decoded document; a 400 problem naming where it breaks when it is not well-formed JSON."""
    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise ApiProblem(400, f"the body is not UTF-8 (byte {exc.start}); send JSON encoded as UTF-8",
                         slug="malformed-body") from exc
    except json.JSONDecodeError as exc:
        raise ApiProblem(400, f"the body is not well-formed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                         slug="malformed-body") from exc
    except (ValueError, RecursionError) as exc:
        raise ApiProblem(400, f"the body is not acceptable JSON: {exc}", slug="malformed-body") from exc
    found = _lone_surrogate(document)
    if found:
        path, code = found
        where = _pointer(path)[1:] or "/"
        raise ApiProblem(400, f"the string at {where} holds a lone surrogate \\u{ord(code):04x}, which is not "
                              "Unicode text; send characters outside the BMP as a surrogate pair or as UTF-8",
                         slug="malformed-body")
    return document


def json_body(schema_name: str, *, required: bool = True) -> dict:
    """The request's JSON object, checked against the OpenAPI schema `schema_name`. An optional body may be
    left out entirely (then it reads as {})."""
    raw = raw_body()
    if not raw.strip() and not required:
        return {}
    if not _is_json_mimetype(request.mimetype):
        sent = request.mimetype or "no Content-Type"
        raise ApiProblem(415, f"the body must be JSON sent with Content-Type: application/json, not {sent}",
                         slug="unsupported-media-type")
    if not raw.strip():
        raise ApiProblem(400, "the body is empty; this endpoint needs a JSON object", slug="malformed-body")
    document = parse_json(raw)
    errors = field_errors(schema_name, document)
    if errors:
        count = "1 field is" if len(errors) == 1 else f"{len(errors)} fields are"
        summary = "; ".join(f"{e['pointer'][2:] or 'body'}: {e['detail']}" for e in errors)
        raise ApiProblem(422, f"{count} invalid: {summary}", slug="validation-failed", errors=errors)
    return document


def field_errors(schema_name: str, document) -> list[dict]:
    """Every problem with `document`, one entry per field, as {pointer, detail} (RFC 9457 §3 style)."""
    by_pointer = {}
    errors = sorted(request_validator(schema_name).iter_errors(document),
                    key=lambda e: _PRIORITY.index(e.validator) if e.validator in _PRIORITY else len(_PRIORITY))
    for error in errors:
        for entry in _describe(error):
            # One problem per field, the most basic first: "must be a string" says more than its pattern.
            by_pointer.setdefault(entry["pointer"], entry)
    return sorted(by_pointer.values(), key=lambda e: e["pointer"])


_PRIORITY = ["type", "required", "additionalProperties", "enum", "minLength", "maxLength", "pattern"]


_JSON_TYPE_NAMES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer",
                    float: "a number", type(None): "null"}


def _pointer(parts) -> str:
    return "#" + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _describe(error) -> list[dict]:
    path, schema, instance = list(error.absolute_path), error.schema, error.instance
    kind = error.validator
    if kind == "required":
        missing = [name for name in error.validator_value if isinstance(instance, dict) and name not in instance]
        return [{"pointer": _pointer([*path, name]), "detail": "is required"} for name in missing]
    if kind == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        extras = sorted(set(instance) - set(known)) if isinstance(instance, dict) else []
        allowed = ", ".join(known) or "none"
        return [{"pointer": _pointer([*path, name]), "detail": f"is not a known field (allowed: {allowed})"}
                for name in extras]
    if kind == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        names = " or ".join(_JSON_TYPE_NAMES.get({"object": dict, "array": list, "string": str, "boolean": bool,
                                                  "integer": int, "number": float, "null": type(None)}[t], t)
                            for t in wanted)
        got = _JSON_TYPE_NAMES.get(type(instance), type(instance).__name__)
        detail = f"must be {names}, not {got}"
        return [{"pointer": _pointer(path), "detail": detail}]
    if kind == "enum":
        options = ", ".join(json.dumps(v) for v in error.validator_value)
        return [{"pointer": _pointer(path), "detail": f"must be one of {options}, not {json.dumps(instance)}"}]
    if kind == "minLength":
        least = error.validator_value
        detail = "must not be empty" if least == 1 else f"needs at least {least} characters"
        return [{"pointer": _pointer(path), "detail": detail}]
    if kind == "maxLength":
        return [{"pointer": _pointer(path), "detail": f"must be at most {error.validator_value} characters"}]
    if kind == "pattern":
        hint = schema.get("x-pattern-hint") or "must not contain control characters"
        return [{"pointer": _pointer(path), "detail": hint}]
    return [{"pointer": _pointer(path), "detail": error.message}]
