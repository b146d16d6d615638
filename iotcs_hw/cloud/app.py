"""The aiohttp application of the local server: routes plus one error/recording middleware.

Every answer that is not a success carries a JSON body ``{"status", "title", "detail", ...}``,
whether the handler refused the request, aiohttp did (unknown path, wrong method, body too
large) or something broke (500, logged with its traceback, never shown to the client).
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from iotcs_hw.cloud import admin_api, device_api, messages_api, objects_api
from iotcs_hw.cloud.context import ApiError, CloudContext, error_body, json_response
from iotcs_hw.cloud.http_util import BODY_KEY, CONTEXT_KEY
from iotcs_hw.cloud.support import RecordedRequest

log = logging.getLogger(__name__)

#: Headers kept in the recorder (secrets are redacted to their first characters).
_RECORDED_HEADERS = (
    "Authorization",
    "Content-Type",
    "Content-Length",
    "Transfer-Encoding",
    "X-ActivationId",
    "X-EndpointId",
    "X-Auth-Token",
)


@web.middleware
async def errors_and_recording(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into a JSON 4xx/5xx and record what was answered."""
    ctx = request.app[CONTEXT_KEY]
    try:
        response = await handler(request)
    except ApiError as exc:
        response = json_response(error_body(exc.status, exc.message, **exc.extra), exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = json_response(error_body(exc.status, exc.reason), exc.status)
        for name in ("Allow",):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
    except (ConnectionError, TimeoutError):
        raise
    except RecursionError:  # only input nesting can get this deep
        response = json_response(error_body(400, "request JSON is nested too deeply"), 400)
    except Exception:
        log.exception("unexpected error answering %s %s", request.method, request.path)
        response = json_response(error_body(500, "internal server error (see server log)"), 500)
    ctx.recorder.add(
        RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={
                k: _redact(k, request.headers[k]) for k in _RECORDED_HEADERS if k in request.headers
            },
            body=request.get(BODY_KEY, b""),
            status=response.status,
            at_s=ctx.clock.time(),
        )
    )
    return response


def _redact(name: str, value: str) -> str:
    if name in ("Authorization", "X-Auth-Token") and len(value) > 16:
        return value[:16] + "..."
    return value


def make_app(ctx: CloudContext) -> web.Application:
    """A configured application for ``ctx`` (the caller runs and closes it)."""
    app = web.Application(
        middlewares=[errors_and_recording], client_max_size=ctx.config.max_body_bytes
    )
    app[CONTEXT_KEY] = ctx
    device_api.add_routes(app)
    messages_api.add_routes(app)
    objects_api.add_routes(app)
    admin_api.add_routes(app)
    return app
