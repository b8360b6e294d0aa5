"""Pub/Sub RPCs called on the transport, wrapped as the client library wraps its own.

The bus calls Publish and Pull below the client's conveniences (the publisher's
batcher, the subscriber's warning on immediate pulls); these wrappers keep what
the client would add: Google API errors, a default timeout, routing headers, and
for Publish a retry on temporary errors.
"""

from __future__ import annotations

import functools
from typing import Any

from google.api_core import exceptions as api
from google.api_core import gapic_v1, retry

PUBLISH_TIMEOUT_S = 60.0
RPC_TIMEOUT_S = 30.0

# A retried publish may store the message twice: delivery is at least once anyway.
PUBLISH_RETRY = retry.Retry(
    predicate=retry.if_exception_type(
        api.Aborted, api.DeadlineExceeded, api.InternalServerError, api.ServiceUnavailable
    ),
    initial=0.1,
    maximum=5.0,
    timeout=PUBLISH_TIMEOUT_S,
)


@functools.cache
def wrapped(method: Any, timeout: float, retried: retry.Retry | None = None) -> Any:
    """``method`` (a transport RPC) with Google API errors, a default timeout and retry."""
    return gapic_v1.method.wrap_method(method, default_timeout=timeout, default_retry=retried)


def routing(field: str, value: str) -> tuple[tuple[str, str], ...]:
    """The routing header naming the resource a request is about."""
    return (gapic_v1.routing_header.to_grpc_metadata(((field, value),)),)
