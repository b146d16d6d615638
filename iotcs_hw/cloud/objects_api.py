"""Storage credentials and a tiny Swift-like object store (protocol §5, §9.8).

``GET /iot/api/v2/provisioner/storage`` gives an endpoint a container URL on this server and a
short-lived ``authToken``.  Objects live under ``/v1/<account>/<container>/<name>``: ``PUT``
answers 201 with ``ETag`` = MD5 hex of the bytes; ``GET`` and ``HEAD`` answer the bytes and
``Content-Type``/``Content-Length``/``Last-Modified``/``ETag``.  Every object call needs
``X-Auth-Token``; an unknown or stale token is 401 (clients then fetch new credentials).
"""

from __future__ import annotations

import hashlib
from email.utils import formatdate

from aiohttp import web

from iotcs_hw.cloud.context import ApiError, json_response
from iotcs_hw.cloud.http_util import bearer, check_id_header, context, read_body
from iotcs_hw.cloud.storage import StoredObject
from iotcs_hw.cloud.support import ms


def container_url(request: web.Request) -> str:
    """The container URL as this client reaches the server."""
    cfg = context(request).config
    return f"https://{request.host}/v1/{cfg.storage_account}/{cfg.storage_container}"


async def storage_credentials(request: web.Request) -> web.Response:
    """``GET /iot/api/v2/provisioner/storage`` (endpoint token)."""
    ctx = context(request)
    tok = bearer(request, scope="")
    check_id_header(request, "X-EndpointId", tok.subject)
    issued = ctx.storage_tokens.issue(tok.subject, "storage")
    return json_response({"storageContainerUrl": container_url(request), "authToken": issued.value})


def _object_path(request: web.Request) -> str:
    cfg = context(request).config
    account = request.match_info["account"]
    container = request.match_info["container"]
    if account != cfg.storage_account or container != cfg.storage_container:
        raise ApiError(404, f"no container /v1/{account}/{container}")
    name = request.match_info["name"]
    if not name or any(part in ("", ".", "..") for part in name.split("/")):
        raise ApiError(400, f"object name {name!r} is not a valid path")
    if len(name.encode("utf-8")) > 1024:
        raise ApiError(400, "object name exceeds 1024 bytes")
    return name


def _check_token(request: web.Request) -> None:
    value = request.headers.get("X-Auth-Token", "").strip()
    if not value or context(request).storage_tokens.lookup(value) is None:
        raise ApiError(401, "X-Auth-Token is missing, unknown or expired")


def _headers(obj: StoredObject) -> dict[str, str]:
    headers = {
        "ETag": obj.etag,
        "Last-Modified": formatdate(obj.last_modified_ms / 1000, usegmt=True),
        "Content-Type": obj.content_type,
    }
    if obj.content_encoding:
        headers["Content-Encoding"] = obj.content_encoding
    return headers


async def put_object(request: web.Request) -> web.Response:
    """Store the body (chunked or sized); 201 with the MD5 ``ETag``."""
    ctx = context(request)
    _check_token(request)
    path = _object_path(request)
    data = await read_body(request, ctx.config.max_object_bytes)
    obj = StoredObject(
        path=path,
        data=data,
        content_type=request.headers.get("Content-Type", "application/octet-stream"),
        content_encoding=request.headers.get("Content-Encoding"),
        etag=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        last_modified_ms=ms(ctx.clock),
    )
    ctx.store.put_object(obj)
    headers = {"ETag": obj.etag, "Last-Modified": _headers(obj)["Last-Modified"]}
    return web.Response(status=201, headers=headers)


def _get(request: web.Request) -> StoredObject:
    _check_token(request)
    path = _object_path(request)
    obj = context(request).store.get_object(path)
    if obj is None:
        raise ApiError(404, f"no object {path!r}")
    return obj


async def get_object(request: web.Request) -> web.Response:
    """The object's bytes."""
    obj = _get(request)
    headers = _headers(obj)
    content_type = headers.pop("Content-Type")
    response = web.Response(body=obj.data, headers=headers)
    response.content_type = content_type
    return response


async def head_object(request: web.Request) -> web.Response:
    """The object's metadata, no body."""
    obj = _get(request)
    headers = _headers(obj)
    headers["Content-Length"] = str(len(obj.data))
    return web.Response(status=200, headers=headers)


def add_routes(app: web.Application) -> None:
    """Register this module's endpoints (``GET`` also serves ``HEAD``)."""
    app.router.add_get("/iot/api/v2/provisioner/storage", storage_credentials)
    route = "/v1/{account}/{container}/{name:.+}"
    app.router.add_put(route, put_object)
    app.router.add_route("HEAD", route, head_object)
    app.router.add_get(route, get_object, allow_head=False)
