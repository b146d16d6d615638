"""Server-to-device requests (protocol §3.4): parsing, routing by path, and the answers.

A REQUEST message carries an HTTP-like call addressed to one endpoint.  The
:class:`RequestDispatcher` routes it to the handler registered for the longest matching path
prefix of that endpoint (``"*"`` matches any endpoint), as Oracle's Java ``RequestDispatcher``
does, and turns a handler's exception into a 500 so that every REQUEST gets a RESPONSE.
Thread-safe: registration holds a lock; handlers run without it.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from iotcs_hw.errors import MessageFormatError
from iotcs_hw.messaging.message import Message, MessageType, response_message

log = logging.getLogger(__name__)

ANY_ENDPOINT = "*"


@dataclass(frozen=True)
class Request:
    """A decoded REQUEST: the effective method (override applied), path and raw body bytes."""

    id: str
    endpoint_id: str
    method: str
    url: str
    body: bytes = b""
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    source: str = ""

    @classmethod
    def from_message(cls, message: Message) -> Request:
        """Decode a REQUEST envelope; raises :class:`MessageFormatError` naming the bad field."""
        if message.type is not MessageType.REQUEST:
            raise MessageFormatError(f"expected a REQUEST message, got {message.type.value}")
        payload = message.payload
        method = payload.get("method")
        url = payload.get("url")
        if not isinstance(method, str) or not method:
            raise MessageFormatError("REQUEST payload field 'method' must be a non-empty string")
        if not isinstance(url, str):
            raise MessageFormatError("REQUEST payload field 'url' must be a string")
        raw_headers = payload.get("headers") or {}
        if not isinstance(raw_headers, dict):
            raise MessageFormatError("REQUEST payload field 'headers' must be an object")
        headers: dict[str, tuple[str, ...]] = {}
        for key, value in raw_headers.items():
            values = value if isinstance(value, list) else [value]
            headers[str(key).lower()] = tuple(str(v) for v in values)
        raw_params = payload.get("params") or {}
        if not isinstance(raw_params, dict):
            raise MessageFormatError("REQUEST payload field 'params' must be an object")
        body_text = payload.get("body", "")
        if body_text is None:
            body_text = ""
        if not isinstance(body_text, str):
            raise MessageFormatError("REQUEST payload field 'body' must be a base64 string")
        try:
            body = base64.b64decode(body_text, validate=True) if body_text else b""
        except (binascii.Error, ValueError) as exc:
            raise MessageFormatError(f"REQUEST body is not base64: {exc}") from exc
        effective = method.upper()
        override = headers.get("x-http-method-override")
        if override and effective == "POST":
            effective = override[0].upper()
        return cls(
            id=message.id or message.client_id,
            endpoint_id=message.destination,
            method=effective,
            url=url.lstrip("/"),
            body=body,
            headers=headers,
            params={str(k): str(v) for k, v in raw_params.items()},
            source=message.source,
        )


@dataclass(frozen=True)
class Response:
    """What a handler answers; the dispatcher wraps it into a RESPONSE message."""

    status: int
    body: bytes = b""
    headers: Mapping[str, list[str]] = field(default_factory=dict)

    @classmethod
    def ok(cls, body: bytes = b"OK") -> Response:
        """200 with body ``OK``, as Oracle's JS library answers a successful write."""
        return cls(200, body)

    @classmethod
    def error(cls, status: int, text: str) -> Response:
        """An error status with a plain-text body explaining it."""
        return cls(status, text.encode("utf-8"))


RequestHandler = Callable[[Request], Response]


def not_found(request: Request) -> Response:
    """The default answer for a path nobody registered."""
    return Response.error(404, "Not Found")


class RequestDispatcher:
    """Routes requests to handlers by endpoint id and longest path prefix."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handlers: dict[str, dict[str, RequestHandler]] = {}

    def register(self, endpoint_id: str, path: str, handler: RequestHandler) -> None:
        """Register ``handler`` for ``path`` (a prefix) of ``endpoint_id`` (or ``"*"``)."""
        if not endpoint_id:
            raise ValueError("endpoint_id must be a non-empty string (or '*')")
        with self._lock:
            self._handlers.setdefault(endpoint_id, {})[path.strip("/")] = handler

    def unregister(self, endpoint_id: str, path: str | None = None) -> None:
        """Remove one path of an endpoint, or every path of it when ``path`` is None."""
        with self._lock:
            if path is None:
                self._handlers.pop(endpoint_id, None)
            else:
                self._handlers.get(endpoint_id, {}).pop(path.strip("/"), None)

    def find(self, endpoint_id: str, url: str) -> RequestHandler:
        """The handler for ``url`` on ``endpoint_id``: longest prefix, exact endpoint first."""
        url = url.strip("/")
        with self._lock:
            for key in (endpoint_id, ANY_ENDPOINT):
                table = self._handlers.get(key, {})
                best: tuple[int, RequestHandler] | None = None
                for path, handler in table.items():
                    matches = url == path or url.startswith(path + "/") or path == ""
                    if matches and (best is None or len(path) > best[0]):
                        best = (len(path), handler)
                if best is not None:
                    return best[1]
        return not_found

    def dispatch(self, request: Request) -> Response:
        """Run the matching handler; a raising handler becomes a 500 with its text."""
        handler = self.find(request.endpoint_id, request.url)
        try:
            return handler(request)
        except Exception as exc:
            log.exception("request handler for %s %s failed", request.method, request.url)
            return Response.error(500, f"{type(exc).__name__}: {exc}")

    def dispatch_message(self, message: Message) -> Message:
        """Decode a REQUEST message, dispatch it and build the RESPONSE message.

        A malformed REQUEST is answered with 400 rather than dropped, so the server always
        learns what happened to it.
        """
        try:
            request = Request.from_message(message)
        except MessageFormatError as exc:
            return response_message(message, 400, str(exc).encode("utf-8"))
        answer = self.dispatch(request)
        return response_message(message, answer.status, answer.body, answer.headers)
