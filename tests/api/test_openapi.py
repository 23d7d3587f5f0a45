"""The OpenAPI document at /api/v1/openapi.json: well-formed, and describing every route there is."""
import re

import pytest
from jsonschema import Draft202012Validator

from tests.api.conftest import PREFIX, openapi_template

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def api_routes(app):
    """(OpenAPI path template, method) for every route of the api blueprint."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((openapi_template(rule.rule), method.lower()))
    return routes


def refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


@pytest.fixture
def doc(openapi_document):
    return openapi_document.document


def test_it_is_an_openapi_3_1_document_for_this_api(doc, api):
    assert re.fullmatch(r"3\.1\.\d+", doc["openapi"])
    assert doc["info"]["title"] and doc["info"]["version"]
    assert doc["servers"] == [{"url": PREFIX}]
    bearer = doc["components"]["securitySchemes"]["bearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    assert doc["security"] == [{"bearer": []}]
    assert {"Subscription", "Invoice", "Widget", "Entitlement", "Problem"} <= set(doc["components"]["schemas"])


def test_every_route_is_documented_and_every_documented_operation_exists(doc, api):
    documented = {(path, method) for path, item in doc["paths"].items() for method in item if method in HTTP_METHODS}

    assert api_routes(api.application) == documented


def test_every_ref_resolves_and_every_schema_is_valid_json_schema_2020_12(openapi_document, doc):
    for ref in set(refs(doc)):
        assert ref.startswith("#/components/"), ref
        assert openapi_document.resolve({"$ref": ref}) is not None
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_path_parameters_match_the_templates(openapi_document, doc):
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            params = [openapi_document.resolve(p) for p in operation.get("parameters", [])]
            in_path = {p["name"] for p in params if p["in"] == "path"}
            assert in_path == set(re.findall(r"{([^}]+)}", path)), f"{method} {path}"
            assert all(p["required"] for p in params if p["in"] == "path")


def test_operations_declare_auth_idempotency_and_problem_answers(openapi_document, doc):
    operation_ids = []
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            operation_ids.append(operation["operationId"])
            responses = operation["responses"]
            if path == "/openapi.json":
                assert operation["security"] == []
                continue
            assert "401" in responses and "default" in responses, f"{method} {path}"
            for status, response in responses.items():
                content = openapi_document.resolve(response)["content"]
                media = "application/problem+json" if status.startswith("4") or status == "default" \
                    else "application/json"
                assert list(content) == [media], f"{method} {path} {status}"
            if method == "post":
                names = {openapi_document.resolve(p)["name"] for p in operation["parameters"]}
                assert "Idempotency-Key" in names, f"{method} {path}"
                assert {"400", "415", "422"} <= set(responses)
    assert len(operation_ids) == len(set(operation_ids))


def test_the_request_schemas_views_validate_with_are_the_documented_ones(doc):
    pay = doc["paths"]["/pay"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert pay == {"$ref": "#/components/schemas/PayRequest"}
    assert doc["components"]["schemas"]["PayRequest"]["required"] == ["customer", "plan"]
