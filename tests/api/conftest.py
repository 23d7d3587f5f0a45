"""Fixtures for the JSON API: a client that sends a bearer token and checks every answer against the
OpenAPI document the API serves (schema of the path, method and status), and that no answer is a 500."""
import re

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from rq import SimpleWorker
from werkzeug.exceptions import MethodNotAllowed, NotFound

from portal.extensions import db
from portal.queue import job_queues
from tests.flows.conftest import billing  # noqa: F401  (the whole-flow fixture, for the tests that pay)

# catalog and player with both scopes, a bare token from before scopes (both), and a read-only client.
API_TOKENS = ("catalog:catalog-secret-token:read+write,player:player-secret-token:read+write,bare-secret-token,"
              "reports:reports-secret-token:read")
CATALOG_TOKEN = "catalog-secret-token"
PLAYER_TOKEN = "player-secret-token"
BARE_TOKEN = "bare-secret-token"
READ_ONLY_TOKEN = "reports-secret-token"
PROBLEM = "application/problem+json"
PREFIX = "/api/v1"
DOC_URI = "urn:tests:openapi"


class OpenApiDocument:
    """The served document, with a registry resolving its internal $refs."""

    def __init__(self, document):
        self.document = document
        self.registry = Registry().with_resource(
            DOC_URI, Resource.from_contents(document, default_specification=DRAFT202012))

    def resolve(self, node):
        while isinstance(node, dict) and "$ref" in node:
            node = self.registry.resolver(DOC_URI).lookup(DOC_URI + node["$ref"]).contents
        return node

    def validator(self, schema):
        """A validator for `schema` as it sits in the document: its "#/..." refs point into the document."""
        return Draft202012Validator(_anchor_refs(schema), registry=self.registry)

    def operation(self, template, method):
        return self.document["paths"].get(template, {}).get(method.lower())

    def declared_response(self, template, method, status):
        """The response object the document declares; None when it declares nothing that covers it."""
        if template is None:
            return self.resolve({"$ref": "#/components/responses/Problem"})
        operation = self.operation(template, method)
        if operation is None:
            # A known path asked with a method it does not have (405): a plain problem document.
            return self.resolve({"$ref": "#/components/responses/Problem"}) if status == 405 else None
        responses = operation["responses"]
        response = responses.get(str(status)) or responses.get("default")
        return self.resolve(response) if response is not None else None


def _anchor_refs(node):
    if isinstance(node, dict):
        return {k: (DOC_URI + v if k == "$ref" and v.startswith("#") else _anchor_refs(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_anchor_refs(v) for v in node]
    return node


def openapi_template(rule: str) -> str:
    """Flask's /api/v1/subscriptions/<int:subscription_id> → OpenAPI's /subscriptions/{subscription_id}."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule[len(PREFIX):])


class ApiClient(FlaskClient):
    """A test client that authenticates as a service and holds every response to the document."""

    token = CATALOG_TOKEN
    document: OpenApiDocument = None
    seen: list = None

    def open(self, *args, token=..., **kwargs):
        token = self.token if token is ... else token
        if token is not None:
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("Authorization", f"Bearer {token}")
            kwargs["headers"] = headers
        response = super().open(*args, **kwargs)
        request = response.request
        self.check(request.method, request.path, response)
        return response

    def check(self, method, path, response):
        status = response.status_code
        assert status < 500, f"{method} {path} answered {status}: {response.get_data(as_text=True)}"
        if not path.startswith(PREFIX):
            return
        if status >= 400:
            assert response.mimetype == PROBLEM, f"{method} {path} {status} is {response.mimetype}, not {PROBLEM}"
        template = self.template_for(method, path)
        declared = self.document.declared_response(template, method, status)
        assert declared is not None, f"the document declares no {status} answer for {method} {template}"
        content = declared.get("content", {})
        assert response.mimetype in content, \
            f"{method} {template} {status}: {response.mimetype} is not among the declared {sorted(content)}"
        schema = content[response.mimetype]["schema"]
        errors = sorted(self.document.validator(schema).iter_errors(response.get_json()),
                        key=lambda e: list(e.absolute_path))
        assert not errors, f"{method} {path} {status} does not match the document: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)
        if self.seen is not None:
            self.seen.append((method, template, status))

    def template_for(self, method, path):
        adapter = self.application.url_map.bind("localhost")
        try:
            rule, _ = adapter.match(path, method=method, return_rule=True)
        except MethodNotAllowed as exc:
            # The path exists with other methods: its rule names the template.
            rule, _ = adapter.match(path, method=exc.valid_methods[0], return_rule=True)
        except NotFound:
            return None
        return openapi_template(rule.rule) if rule.endpoint.startswith("api.") else None


@pytest.fixture(scope="session")
def openapi_document(migrated_app):
    response = migrated_app.test_client().get(f"{PREFIX}/openapi.json")
    assert response.status_code == 200
    return OpenApiDocument(response.get_json())


@pytest.fixture
def api_app(app):
    """The app with API tokens configured for four clients: catalog, player, a bare ("default") one and a
    read-only one (reports)."""
    saved = app.config.get("API_TOKENS")
    app.config["API_TOKENS"] = API_TOKENS
    yield app
    app.config["API_TOKENS"] = saved


@pytest.fixture
def api(api_app, openapi_document):
    client = ApiClient(api_app, api_app.response_class, use_cookies=False)
    client.document = openapi_document
    return client


@pytest.fixture
def run_jobs(app):
    """Run every queued job (billing, then mail) with a real RQ worker, in this app context."""

    def run():
        queues = job_queues()
        SimpleWorker(queues, connection=queues[0].connection).work(burst=True)
        db.session.expire_all()

    return run
