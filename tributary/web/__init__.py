"""The HTTP API and the web client's server side, shared by the local stack and the ``api`` function."""

from tributary.web.app import create_app

__all__ = ["create_app"]
