"""Helpers every handler uses: the context lookup, bounded body reads, JSON parsing, bearers."""

from __future__ import annotations

import hmac
import json
from typing import Any

from aiohttp import web

from iotcs_hw.cloud.context import ApiError, CloudContext
from iotcs_hw.cloud.support import IssuedToken

CONTEXT_KEY = web.AppKey("iotcs_cloud_context", CloudContext)
#: The body a handler read, kept for the request recorder.
BODY_KEY = web.RequestKey("iotcs_cloud_body", bytes)
ACTIVATION_SCOPE = "oracle/iot/activation"


def context(request: web.Request) -> CloudContext:
    """The :class:`CloudContext` of the app serving ``request``."""
    return request.app[CONTEXT_KEY]


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body (chunked, sized or absent), refusing more than ``limit`` bytes with 413."""
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"body of {request.content_length} bytes exceeds {limit} bytes")
    buf = bytearray()
    async for chunk in request.content.iter_any():
        buf += chunk
        if len(buf) > limit:
            raise ApiError(413, f"body exceeds {limit} bytes")
    body = bytes(buf)
    request[BODY_KEY] = body
    return body


async def read_json(request: web.Request, limit: int, *, empty: Any = None) -> Any:
    """Parse the body as JSON; ``empty`` is returned for an empty body if not None."""
    body = await read_body(request, limit)
    if not body.strip():
        if empty is not None:
            return empty
        raise ApiError(400, "request body is empty; expected JSON")
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"request body is not JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "request body is JSON nested too deeply") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def bearer(request: web.Request, *, scope: str | None) -> IssuedToken:
    """The valid bearer token of ``request``; ``scope`` None admits both scopes.

    An empty or unknown token is 401 (what makes Oracle's JS client fetch one); a live token of
    the wrong scope is 403 ``insufficient_scope``.
    """
    header = request.headers.get("Authorization", "").strip()
    kind, _, value = header.partition(" ")
    value = value.strip()
    if not header or kind.lower() != "bearer" or not value:
        raise ApiError(401, "missing bearer token", error="invalid_token")
    token = context(request).tokens.lookup(value)
    if token is None:
        raise ApiError(401, "bearer token is unknown or expired", error="invalid_token")
    if scope is not None and token.scope != scope:
        needed = "an activation" if scope == ACTIVATION_SCOPE else "an endpoint (empty scope)"
        raise ApiError(403, f"this call needs {needed} token", error="insufficient_scope")
    return token


def has_admin_token(request: web.Request) -> bool:
    """True when ``request`` carries this server's admin token (compared in constant time)."""
    header = request.headers.get("Authorization", "").strip().encode("utf-8")
    expected = f"Bearer {context(request).admin_token}".encode()
    return hmac.compare_digest(header, expected)


def check_id_header(request: web.Request, name: str, expected: str) -> None:
    """``X-ActivationId``/``X-EndpointId``, when sent, must name the token's subject."""
    sent = request.headers.get(name)
    if sent is not None and sent.strip() and sent.strip() != expected:
        raise ApiError(401, f"{name} {sent!r} does not match the token's subject {expected!r}")
