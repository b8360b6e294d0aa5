"""The api function: synchronous predict, warm-up, CORS allowlist, authentication."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from types import SimpleNamespace

import flask
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from flask.testing import FlaskClient
from google.auth import crypt, jwt

from tests.functions.conftest import ALLOWED_ORIGIN
from tributary.backend import Backend
from tributary.web.auth import FirebaseAuth, Unauthenticated

Client = Callable[[str], FlaskClient]


@pytest.fixture
def api(function: Client) -> FlaskClient:
    return function("api")


def _upload(backend: Backend, data: bytes, uid: str = "local", app: str = "echo") -> str:
    name = f"uploads/{uid}/{app}/{uuid.uuid4()}.txt"
    backend.blobs.put(name, data, content_type="text/plain")
    return name


def test_predict_runs_the_three_stages_on_the_named_object(
    api: FlaskClient, served: Backend
) -> None:
    name = _upload(served, b"hi there")
    response = api.get("/", query_string={"name": name})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["app"] == "echo" and body["name"] == name
    assert body["result"] == {"length": 8, "sum": 6.0}
    assert set(body["ms"]) == {"preprocess", "inference", "lookup"}
    # No job: the synchronous path answers in the response only.
    assert served.documents.query("jobs") == []


def test_predict_takes_a_json_body_too(api: FlaskClient, served: Backend) -> None:
    name = _upload(served, b"abc", uid="alice")
    response = api.post("/predict", json={"name": name}, headers={"X-Dev-User": "alice"})
    assert response.status_code == 200 and response.get_json()["result"]["length"] == 3


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ({}, 400, "invalid_input"),
        ({"name": "uploads/local/echo/not-a-uuid.txt"}, 400, "invalid_object_name"),
        (
            {"name": "uploads/mallory/echo/5f0c2a8e-3b1d-4c6f-8a9e-7d2b1c0f4e36.txt"},
            403,
            "forbidden",
        ),
        ({"name": "uploads/local/echo/5f0c2a8e-3b1d-4c6f-8a9e-7d2b1c0f4e36.txt"}, 404, "not_found"),
        ({"name": "uploads/local/nope/5f0c2a8e-3b1d-4c6f-8a9e-7d2b1c0f4e36.txt"}, 404, "not_found"),
    ],
)
def test_predict_errors_have_a_code_and_a_real_status(
    api: FlaskClient, query: dict[str, str], status: int, code: str
) -> None:
    response = api.get("/", query_string=query)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


def test_predict_reports_bad_input_and_unknown_apps(api: FlaskClient, served: Backend) -> None:
    failing = api.get("/", query_string={"name": _upload(served, b"fail:permanent")})
    assert failing.status_code == 400 and failing.get_json()["error"]["code"] == "invalid_input"
    unknown = api.get("/", query_string={"name": _upload(served, b"x", app="nope")})
    assert unknown.status_code == 400 and unknown.get_json()["error"]["code"] == "unknown_app"


def test_predict_refuses_an_object_over_the_upload_limit(
    function: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tributary.functions import RUNTIME

    monkeypatch.setenv("TRIBUTARY_MAX_UPLOAD_BYTES", "4")
    RUNTIME.close()
    name = _upload(RUNTIME.backend(), b"more than four bytes")
    response = function("api").get("/", query_string={"name": name})
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "too_large"


def test_warm_up_loads_the_named_apps(api: FlaskClient) -> None:
    for response in (
        api.get("/", query_string={"warmup": "1", "app": "echo"}),
        api.post("/warmup", query_string={"app": "echo"}),
    ):
        assert response.status_code == 200
        assert response.get_json()["warmed"] == {"echo": "v1"}


def test_warm_up_says_which_model_is_missing(api: FlaskClient) -> None:
    response = api.get("/warmup")  # every registered app; no cough model is built here
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "model_unavailable" and "cough" in error["message"]
    unknown = api.get("/warmup", query_string={"app": "nope"})
    assert unknown.status_code == 400 and unknown.get_json()["error"]["code"] == "unknown_app"


def test_unknown_paths_and_methods(api: FlaskClient) -> None:
    assert api.get("/nowhere").status_code == 404
    assert api.delete("/", query_string={"name": "x"}).status_code == 405
    assert api.get("/healthz").get_json() == {"status": "ok", "backend": "local"}


def test_cors_answers_allowed_origins_only_and_never_with_a_wildcard(
    api: FlaskClient, served: Backend
) -> None:
    name = _upload(served, b"hi")
    allowed = api.get("/", query_string={"name": name}, headers={"Origin": ALLOWED_ORIGIN})
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "Origin" in allowed.headers.get_all("Vary")
    other = api.get("/", query_string={"name": name}, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = api.options(
        "/", headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    refused = api.options(
        "/", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused.headers
    for response in (allowed, other, preflight, refused):
        assert response.headers.get("Access-Control-Allow-Origin") != "*"


def test_without_configured_origins_no_origin_is_allowed(
    function: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tributary.functions import RUNTIME

    monkeypatch.delenv("TRIBUTARY_CORS_ORIGINS")
    RUNTIME.close()
    response = function("api").get("/healthz", headers={"Origin": ALLOWED_ORIGIN})
    assert response.status_code == 200 and "Access-Control-Allow-Origin" not in response.headers


# -- Firebase ID tokens, verified for real against a key pair made here ----------------

PROJECT = "tributary-demo"


class _Keys:
    """Google's public-key endpoint, as google-auth fetches it, for one key made here."""

    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "securetoken")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.private.public_key())
            .serial_number(1)
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(self.private, hashes.SHA256())
        )
        self.certs = {"key-1": cert.public_bytes(serialization.Encoding.PEM).decode()}
        self.fetches = 0

    def __call__(self, url: str, method: str = "GET", **kwargs: object) -> object:
        self.fetches += 1
        return SimpleNamespace(status=200, headers={}, data=json.dumps(self.certs).encode())

    def token(self, **claims: object) -> str:
        pem = self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        signer = crypt.RSASigner.from_string(pem, key_id="key-1")
        now = int(time.time())
        payload = {
            "iss": f"https://securetoken.google.com/{PROJECT}",
            "aud": PROJECT,
            "sub": "alice",
            "iat": now,
            "exp": now + 600,
            **claims,
        }
        return jwt.encode(signer, payload).decode()


def _request(headers: dict[str, str]) -> flask.Request:
    app = flask.Flask(__name__)
    with app.test_request_context("/", headers=headers):
        return flask.request._get_current_object()  # type: ignore[attr-defined]


def test_a_valid_firebase_id_token_names_the_caller() -> None:
    keys = _Keys()
    auth = FirebaseAuth(PROJECT, transport=keys)
    assert auth.uid(_request({"Authorization": f"Bearer {keys.token()}"})) == "alice"
    assert keys.fetches == 1


@pytest.mark.parametrize(
    "case",
    ["missing", "not bearer", "garbage", "other project", "other issuer", "expired", "unsigned"],
)
def test_a_bad_firebase_id_token_is_refused(case: str) -> None:
    keys = _Keys()
    tokens = {
        "missing": None,
        "not bearer": f"Basic {keys.token()}",
        "garbage": "Bearer not.a.token",
        "other project": f"Bearer {keys.token(aud='someone-else')}",
        "other issuer": f"Bearer {keys.token(iss='https://securetoken.google.com/someone-else')}",
        "expired": f"Bearer {keys.token(iat=1, exp=2)}",
        "unsigned": "Bearer "
        + ".".join(
            part.rstrip("=")
            for part in (
                _b64({"alg": "none", "kid": "key-1"}),
                _b64({"sub": "alice", "aud": PROJECT}),
                "",
            )
        ),
    }
    header = tokens[case]
    with pytest.raises(Unauthenticated) as refused:
        FirebaseAuth(PROJECT, transport=keys).uid(
            _request({"Authorization": header} if header else {})
        )
    assert refused.value.code == "unauthenticated"


def _b64(value: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def test_the_function_serves_the_same_job_routes_as_the_local_stack(
    api: FlaskClient, served: Backend
) -> None:
    from tributary.runner import Runner

    alice = {"X-Dev-User": "alice"}
    created = api.post("/v1/jobs", json={"app": "echo", "text": "abc"}, headers=alice)
    assert created.status_code == 202 and created.headers["Location"] == created.get_json()["url"]
    job_id = created.get_json()["job_id"]
    with Runner(served):
        stream = api.get(f"/v1/jobs/{job_id}/events", headers=alice, buffered=False)
        assert stream.mimetype == "text/event-stream"
        text = b"".join(stream.response).decode()
    assert "event: end" in text and '"state":"succeeded"' in text
    job = api.get(f"/v1/jobs/{job_id}", headers=alice).get_json()
    assert job["result"] == {"length": 3, "sum": 6.0}
    assert api.get(f"/v1/jobs/{job_id}", headers={"X-Dev-User": "bob"}).status_code == 404
    assert [j["job_id"] for j in api.get("/v1/jobs", headers=alice).get_json()["jobs"]] == [job_id]
    assert api.get("/v1/openapi.json").get_json()["openapi"].startswith("3.")
