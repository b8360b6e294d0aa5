"""schemas/openapi.json is true: every route documented, nothing documented that is not
served, every example valid, and real answers match the documented schemas."""

from __future__ import annotations

import copy
import io
import re
from typing import Any

import jsonschema
import pytest
from flask.testing import FlaskClient

from tests.helpers import wait_terminal
from tributary.backend import Backend
from tributary.runner import Runner
from tributary.web import create_app
from tributary.web.routes_service import openapi_document

DOC = openapi_document()
_METHODS = {"get", "post", "put", "delete", "patch"}


def _resolve(node: Any) -> Any:
    """``node`` with every ``#/components/schemas/...`` reference inlined."""
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].removeprefix("#/components/schemas/")
            return _resolve(copy.deepcopy(DOC["components"]["schemas"][name]))
        return {key: _resolve(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item) for item in node]
    return node


def _served_routes(backend: Backend) -> set[tuple[str, str]]:
    app = create_app(backend)
    routes = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method.lower() in _METHODS:
                routes.add((path, method.lower()))
    return routes


def test_every_route_is_documented_and_every_documented_route_is_served(
    backend: Backend,
) -> None:
    documented = {
        (path, method)
        for path, item in DOC["paths"].items()
        for method in item
        if method in _METHODS
    }
    assert _served_routes(backend) == documented


def _examples() -> list[tuple[str, Any, Any]]:
    found = []
    for path, item in DOC["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                for media, body in response.get("content", {}).items():
                    if "example" in body and media == "application/json":
                        found.append((f"{method} {path} {status}", body["schema"], body["example"]))
    return found


@pytest.mark.parametrize(("where", "schema", "example"), _examples(), ids=lambda x: str(x)[:40])
def test_every_example_fits_its_schema(where: str, schema: Any, example: Any) -> None:
    jsonschema.validate(example, _resolve(schema))


def _documented(path: str, method: str, status: int) -> Any:
    response = DOC["paths"][path][method]["responses"][str(status)]
    return _resolve(response["content"]["application/json"]["schema"])


def test_real_answers_match_the_documented_schemas(backend: Backend) -> None:
    backend.settings = backend.settings.with_overrides(auth="dev")
    http: FlaskClient = create_app(backend).test_client()
    checks: list[tuple[str, str, Any]] = []

    def check(path: str, method: str, response: Any) -> Any:
        jsonschema.validate(response.json, _documented(path, method, response.status_code))
        checks.append((path, method, response.status_code))
        return response.json

    check("/healthz", "get", http.get("/healthz"))
    check("/v1/config", "get", http.get("/v1/config"))
    check("/v1/warmup", "post", http.post("/v1/warmup?app=echo"))
    check("/v1/warmup", "post", http.post("/v1/warmup?app=nope"))
    with Runner(backend):
        query = check("/v1/jobs", "post", http.post("/v1/jobs", json={"app": "echo", "text": "hi"}))
        upload = check(
            "/v1/jobs",
            "post",
            http.post("/v1/jobs", data={"app": "echo", "file": (io.BytesIO(b"abc"), "a.txt")}),
        )
        for created in (query, upload):
            wait_terminal(backend, created["job_id"])
        session = check(
            "/v1/uploads", "post", http.post("/v1/uploads", json={"app": "echo", "size": 2})
        )
        url = session["url"]
        check("/v1/uploads/{upload_id}", "get", http.get(url))
        check(
            "/v1/uploads/{upload_id}",
            "put",
            http.put(url, data=b"ab", headers={"Content-Range": "bytes 0-1/2"}),
        )
        check(
            "/v1/uploads/{upload_id}",
            "put",
            http.put(url, data=b"ab", headers={"Content-Range": "bytes 0-0/9"}),
        )
    check("/v1/jobs/{job_id}", "get", http.get(query["url"]))
    check("/v1/jobs/{job_id}", "get", http.get("/v1/jobs/" + query["job_id"][::-1]))
    check("/v1/jobs", "get", http.get("/v1/jobs"))
    check("/v1/jobs", "post", http.post("/v1/jobs", json={"app": "nope", "text": "x"}))
    assert len(checks) == 14
