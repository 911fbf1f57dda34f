"""GET /openapi.json: an OpenAPI 3.1 document of every emulated endpoint, built from the same
schemas as the contract suite, that the emulator's real answers conform to."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from mockcamb.core import schemas
from mockcamb.core.routes import ROUTES
from mockcamb.http.app import create_app
from mockcamb.http.openapi import openapi_document
from mockcamb.testing import MockCamb

HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


@pytest.fixture
def doc(mockcamb: MockCamb) -> dict[str, Any]:
    reply = requests.get(f"{mockcamb.url}/openapi.json", timeout=5)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    document: dict[str, Any] = reply.json()
    return document


def validator(doc: dict[str, Any], pointer: str) -> Draft202012Validator:
    """A validator for the schema at ``pointer`` inside ``doc``, resolving its $refs."""
    registry: Registry[Any] = Registry().with_resource(
        "urn:openapi", Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    return Draft202012Validator({"$ref": f"urn:openapi#{pointer}"}, registry=registry)


def response_schema(doc: dict[str, Any], path: str, method: str, code: int) -> str:
    responses = doc["paths"][path][method]["responses"]
    assert str(code) in responses, f"{method.upper()} {path} does not document {code}"
    ref: str = responses[str(code)]["content"]["application/json"]["schema"]["$ref"]
    return ref.removeprefix("#")


def check(doc: dict[str, Any], path: str, method: str, reply: requests.Response) -> None:
    """The reply's status is documented for the operation and its body fits the schema."""
    assert reply.headers["Content-Type"] == "application/json"
    pointer = response_schema(doc, path, method, reply.status_code)
    errors = [e.message for e in validator(doc, pointer).iter_errors(reply.json())]
    assert errors == [], f"{method.upper()} {path} {reply.status_code}: {errors}"


def test_the_document_is_openapi_3_1_with_this_server(
    doc: dict[str, Any], mockcamb: MockCamb
) -> None:
    assert doc["openapi"] == "3.1.0"
    assert doc["jsonSchemaDialect"] == schemas.JSON_SCHEMA_DIALECT
    assert doc["servers"] == [{"url": mockcamb.base_url}]
    assert doc["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
    }
    assert doc["security"] == [{"ApiKey": []}]
    op_ids = [
        op["operationId"]
        for item in doc["paths"].values()
        for method, op in item.items()
        if method in HTTP_METHODS
    ]
    assert len(op_ids) == len(set(op_ids)) == len(ROUTES) + 1  # and the admin journal


def test_every_routed_endpoint_is_documented_and_nothing_else() -> None:
    app = create_app()
    routed = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/apis/") or rule.endpoint == "api.unknown":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/apis"))
        routed |= {(path, m.lower()) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    documented = {
        (path, method)
        for path, item in openapi_document()["paths"].items()
        for method in item
        if method in HTTP_METHODS and "servers" not in item  # the admin journal: its own
    }
    assert documented == routed


def test_components_are_the_shared_schemas() -> None:
    components = openapi_document()["components"]["schemas"]
    for name, shared in (
        ("TaskStatus", schemas.STATUS_BODY_SCHEMA),
        ("ErrorBody", schemas.ERROR_BODY_SCHEMA),
        ("HTTPValidationError", schemas.VALIDATION_ERROR_SCHEMA),
        ("CreateTaskResponse", schemas.CREATE_TASK_RESPONSE_SCHEMA),
    ):
        assert components[name] == {k: v for k, v in shared.items() if k != "$schema"}
        Draft202012Validator.check_schema(components[name])


def test_every_ref_resolves_and_every_schema_is_valid() -> None:
    doc = openapi_document("http://example.invalid/apis")
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert refs
    for ref in set(refs):
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"]
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    assert doc["servers"] == [{"url": "http://example.invalid/apis"}]


def test_documents_are_independent_copies() -> None:
    first = openapi_document()
    first["paths"]["/story"]["post"]["responses"]["401"]["description"] = "changed"
    assert (
        openapi_document()["paths"]["/story/{task_id}"]["get"]["responses"]["401"]["description"]
        != "changed"
    )


def test_real_answers_fit_the_document(doc: dict[str, Any], mockcamb: MockCamb) -> None:
    base, key = mockcamb.base_url, mockcamb.headers
    story = {"file": ("s.txt", b"Once upon a time", "text/plain")}

    created = requests.post(f"{base}/story", headers=key, files=story, data={"source_language": 1})
    check(doc, "/story", "post", created)
    story_id = created.json()["task_id"]
    check(doc, "/story", "post", requests.post(f"{base}/story", headers=key))
    check(doc, "/story", "post", requests.post(f"{base}/story", files=story))
    bad_scenario = {**key, "x-mockcamb-scenario": "nope"}
    check(
        doc,
        "/story",
        "post",
        requests.post(
            f"{base}/story", headers=bad_scenario, files=story, data={"source_language": 1}
        ),
    )
    setup = {
        "media_url": "https://example.invalid/v.mp4",
        "source_language": 1,
        "target_languages": [76],
    }
    ps = requests.post(f"{base}/project-setup", headers=key, json=setup)
    check(doc, "/project-setup", "post", ps)
    check(
        doc, "/project-setup", "post", requests.post(f"{base}/project-setup", headers=key, json={})
    )

    failing = mockcamb.create_task(
        "project-setup",
        {"steps": [{"status": "ERROR", "message": "boom", "exception_reason": "PROCESSING_ERROR"}]},
    )
    for _ in range(3):
        check(doc, "/story/{task_id}", "get", requests.get(f"{base}/story/{story_id}", headers=key))
    check(
        doc,
        "/project-setup/{task_id}",
        "get",
        requests.get(f"{base}/project-setup/{failing}", headers=key),
    )
    check(doc, "/story/{task_id}", "get", requests.get(f"{base}/story/missing", headers=key))
    check(doc, "/story/{task_id}", "get", requests.get(f"{base}/story/{story_id}"))

    run_id = requests.get(f"{base}/story/{story_id}", headers=key).json()["run_id"]
    assert isinstance(run_id, int)
    check(
        doc,
        "/story-result/{run_id}",
        "get",
        requests.get(f"{base}/story-result/{run_id}", headers=key),
    )
    check(doc, "/story-result/{run_id}", "get", requests.get(f"{base}/story-result/1", headers=key))
    check(doc, "/story-result/{run_id}", "get", requests.get(f"{base}/story-result/{run_id}"))
    ps_id = ps.json()["task_id"]
    for _ in range(3):
        status = requests.get(f"{base}/project-setup/{ps_id}", headers=key).json()
    assert status["status"] == "SUCCESS"
    result = requests.get(f"{base}/project-setup-result/{status['run_id']}", headers=key)
    assert result.status_code == 200
    check(doc, "/project-setup-result/{run_id}", "get", result)
    codes = [e["status_code"] for e in mockcamb.requests()]
    assert {200, 400, 401, 404, 422} <= set(codes)


def test_what_the_sdk_sends_fits_the_request_schemas() -> None:
    doc = openapi_document()
    story = validator(doc, "/components/schemas/CreateStoryRequest")
    assert story.is_valid({"file": "...", "source_language": 1, "title": "t", "folder_id": 3})
    assert not story.is_valid({"source_language": 1})
    setup = validator(doc, "/components/schemas/CreateProjectSetupRequest")
    assert setup.is_valid(
        {
            "media_url": "https://example.invalid/v.mp4",
            "source_language": 1,
            "target_languages": [76, 2],
            "project_name": None,
            "selected_audio_tracks": [0],
            "add_output_as_an_audio_track": True,
        }
    )
    assert not setup.is_valid({"media_url": "u", "source_language": 1})
