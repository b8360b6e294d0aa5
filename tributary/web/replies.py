"""JSON answers of the HTTP API, errors included (``{"error": {"code", "message"}}``)."""

from __future__ import annotations

from typing import Any

import flask


def json_reply(body: Any, status: int = 200) -> flask.Response:
    response = flask.jsonify(body)
    response.status_code = status
    return response


def error_body(code: str, message: str, status: int) -> flask.Response:
    return json_reply({"error": {"code": code, "message": message}}, status)
