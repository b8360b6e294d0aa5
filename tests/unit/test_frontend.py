"""The web client's files: served by the local API, and never turning text into HTML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tributary.api import FRONTEND_DIR
from tributary.backend import Backend
from tributary.web import create_app

SOURCES = [*sorted(FRONTEND_DIR.glob("js/*.js")), FRONTEND_DIR / "index.html"]
# Every way a string can become markup or code in a page.
_HTML_SINKS = re.compile(
    r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|createContextualFragment"
    r"|\beval\(|new Function\(|srcdoc"
)


@pytest.fixture
def http(backend: Backend) -> FlaskClient:
    backend.settings = backend.settings.with_overrides(auth="dev")
    return create_app(backend, frontend_dir=FRONTEND_DIR).test_client()


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_no_text_is_ever_rendered_as_html(source: Path) -> None:
    found = _HTML_SINKS.findall(source.read_text())
    assert found == [], f"{source.name} uses {found}: build nodes and set textContent instead"


def test_every_module_the_page_imports_exists() -> None:
    for source in FRONTEND_DIR.glob("js/*.js"):
        for target in re.findall(r'from "(\./[^"]+)"', source.read_text()):
            assert (source.parent / target).is_file(), f"{source.name} imports {target}"
    page = (FRONTEND_DIR / "index.html").read_text()
    for target in re.findall(r'(?:src|href)="/ui/([^"]+)"', page):
        assert (FRONTEND_DIR / target).is_file(), target


def test_the_page_and_its_modules_are_served_and_nothing_else(http: FlaskClient) -> None:
    page = http.get("/")
    assert page.status_code == 200 and b'src="/ui/js/main.js"' in page.data
    module = http.get("/ui/js/main.js")
    assert module.status_code == 200 and module.mimetype == "text/javascript"
    assert http.get("/ui/style.css").mimetype == "text/css"
    for path in (
        "/ui/package.json",
        "/ui/node_modules/firebase/package.json",
        "/ui/node_modules/firebase/app/dist/index.esm.js",
        "/ui/../pyproject.toml",
        "/ui/js/nope.js",
    ):
        assert http.get(path).status_code == 404, path


def test_without_a_web_client_the_root_is_the_original_predict(backend: Backend) -> None:
    backend.settings = backend.settings.with_overrides(auth="dev")
    http = create_app(backend).test_client()
    answer = http.get("/")
    assert answer.status_code == 400 and answer.json["error"]["code"] == "invalid_input"
    assert http.get("/ui/js/main.js").status_code == 404
