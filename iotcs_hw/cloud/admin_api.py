"""The application side of the local server, under ``/local/v1/`` (loopback + admin token).

What a cloud application or a tool does with IoTCS: register devices and download their
provisioning files, queue writes and actions (checked against the device model first) and wait
for the device's RESPONSE, read or follow the messages devices sent, and (for tests) fail
message POSTs on purpose.  :mod:`iotcs_hw.cloud.app_client` is the Python client of this API.

Every call needs ``Authorization: Bearer <admin token>``, the token written to the data
directory (``admin.token``, 0600), and must come from a loopback address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from iotcs_hw.cloud.context import ApiError, CloudContext, json_response
from iotcs_hw.cloud.http_util import context, has_admin_token, read_json
from iotcs_hw.cloud.models import WriteRejected
from iotcs_hw.cloud.pending import response_view
from iotcs_hw.cloud.provisioning import provisioning_file
from iotcs_hw.cloud.records import RequestRecord
from iotcs_hw.cloud.storage import DeviceRecord, RequestState
from iotcs_hw.cloud.writes import call_action, raw_request, write_attributes
from iotcs_hw.errors import ConfigError

PREFIX = "/local/v1"
_LIMIT = 1024 * 1024
#: The most a caller may ask an admin call to wait, in seconds.
MAX_WAIT_S = 300.0


def check_loopback(request: web.Request) -> None:
    """Refuse peers that are not on this machine."""
    remote = request.remote or ""
    try:
        loopback = ipaddress.ip_address(remote).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ApiError(403, f"the admin API answers loopback clients only, not {remote!r}")


def check_admin(request: web.Request) -> None:
    """Loopback peers with the admin token only."""
    check_loopback(request)
    if not has_admin_token(request):
        raise ApiError(401, "the admin API needs 'Authorization: Bearer <data dir>/admin.token'")


def _wait_param(request: web.Request) -> float:
    raw = request.query.get("wait", "0")
    try:
        wait = float(raw)
    except ValueError:
        raise ApiError(400, f"wait {raw!r} is not a number of seconds") from None
    if not 0 <= wait <= MAX_WAIT_S:
        raise ApiError(400, f"wait {raw!r} must be between 0 and {MAX_WAIT_S:g} seconds")
    return wait


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} {raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise ApiError(400, f"{name} {value} must be between {low} and {high}")
    return value


def _object(body: object, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, f"{what} must be a JSON object")
    return body


def _optional_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise ApiError(400, f"field {key!r} must be a non-empty string")
    return value


_DASHBOARD = Path(__file__).with_name("dashboard.html")


async def dashboard(request: web.Request) -> web.Response:
    """A one-page view of devices and messages with a write form (loopback only).

    The page holds no data: it asks for the admin token and calls this API with it.
    """
    check_loopback(request)
    try:
        page = _DASHBOARD.read_bytes()
    except OSError:
        raise ApiError(404, "the dashboard page is not installed") from None
    return web.Response(
        body=page,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; "
            "style-src 'unsafe-inline'",
            "Cache-Control": "no-store",
        },
    )


# -- devices ---------------------------------------------------------------------------------


async def status(request: web.Request) -> web.Response:
    """Server facts: URL, counts, fault switch."""
    check_admin(request)
    ctx = context(request)
    return json_response(
        {
            "url": f"https://{request.host}",
            "devices": len(ctx.store.devices()),
            "deviceModels": ctx.registry.urns(),
            "faults": ctx.faults.to_json(),
        }
    )


async def register_device(request: web.Request) -> web.Response:
    """Register a device (and the indirectly connected devices whose secrets its store holds)."""
    check_admin(request)
    ctx = context(request)
    body = _object(await read_json(request, _LIMIT, empty={}), "device registration")
    activation_id = _optional_str(body, "activationId") or "DEV-" + secrets.token_hex(4).upper()
    secret = _optional_str(body, "sharedSecret") or secrets.token_urlsafe(24)
    connected = body.get("connectedDevices") or {}
    if not isinstance(connected, dict) or not all(
        isinstance(k, str) and k and (v is None or isinstance(v, str)) for k, v in connected.items()
    ):
        raise ApiError(400, "connectedDevices must map device ids to secrets (strings or null)")
    metadata = {"connectedDevices": list(connected)} if connected else None
    records = [DeviceRecord(activation_id, secret, "REGISTERED", metadata=metadata)]
    icd_secrets: dict[str, str] = {}
    for icd, icd_secret in connected.items():
        icd_secrets[icd] = icd_secret or secrets.token_urlsafe(24)
        records.append(DeviceRecord(icd, icd_secrets[icd], "REGISTERED"))
    for record in records:
        if ctx.store.device(record.activation_id) is not None:
            raise ApiError(409, f"device {record.activation_id!r} is already registered")
    for record in records:
        ctx.store.add_device(record)
    out = records[0].to_json()
    out["sharedSecret"] = secret
    out["connectedDevices"] = icd_secrets
    return json_response(out, status=201)


async def list_devices(request: web.Request) -> web.Response:
    """Every device."""
    check_admin(request)
    return json_response({"items": [d.to_json() for d in context(request).store.devices()]})


def _device(ctx: CloudContext, ident: str) -> DeviceRecord:
    device = ctx.store.device(ident) or ctx.store.device_by_endpoint(ident)
    if device is None:
        raise ApiError(404, f"no device with activation or endpoint id {ident!r}")
    return device


async def get_device(request: web.Request) -> web.Response:
    """One device by activation or endpoint id."""
    check_admin(request)
    return json_response(_device(context(request), request.match_info["id"]).to_json())


async def provision(request: web.Request) -> web.Response:
    """The device's unified provisioning file, encrypted with the password in the body."""
    check_admin(request)
    ctx = context(request)
    device = _device(ctx, request.match_info["id"])
    body = _object(await read_json(request, _LIMIT), "provisioning request")
    password = body.get("password")
    if not isinstance(password, str) or not password:
        raise ApiError(400, "field 'password' must be a non-empty string")
    server_uri = _optional_str(body, "serverUri") or f"https://{request.host}"
    return _provisioning_answer(ctx, device, body, server_uri, password)


async def provisioner_device(request: web.Request) -> web.Response:
    """``POST /iot/api/v2/provisioner/device`` (§1.4): the IoTCS REST form of provisioning.

    Body ``{"id": <activation id>, "passphrase": ..., "connectedDevices": [...],
    "transport": "https"}``; the answer is the unified-format file.  Admin token only.
    """
    check_admin(request)
    ctx = context(request)
    body = _object(await read_json(request, _LIMIT), "provisioning request")
    ident, passphrase = body.get("id"), body.get("passphrase")
    if not isinstance(ident, str) or not ident:
        raise ApiError(400, "field 'id' must be the device's activation id")
    if not isinstance(passphrase, str) or not passphrase:
        raise ApiError(400, "field 'passphrase' must be a non-empty string")
    transport = body.get("transport", "https")
    if transport != "https":
        raise ApiError(400, f"transport {transport!r}: only 'https' is served here")
    device = ctx.store.device(ident)
    if device is None:
        raise ApiError(404, f"no device with activation id {ident!r}")
    return _provisioning_answer(ctx, device, body, f"https://{request.host}", passphrase)


def _provisioning_answer(
    ctx: CloudContext, device: DeviceRecord, body: dict[str, Any], server_uri: str, password: str
) -> web.Response:
    """The unified provisioning file for ``device``, encrypted with ``password``.

    Both provisioning routes (ours and the IoTCS REST form) take ``connectedDevices`` from the
    body and fall back to the devices registered with ``device``, so one store never differs
    by the route that produced it.
    """
    connected = body.get("connectedDevices")
    if connected is None:
        connected = (device.metadata or {}).get("connectedDevices", [])
    if not isinstance(connected, list) or not all(isinstance(c, str) for c in connected):
        raise ApiError(400, "connectedDevices must be a list of device ids")
    try:
        data = provisioning_file(ctx, device, server_uri, password, connected)
    except (ConfigError, ValueError) as exc:
        raise ApiError(400, str(exc)) from None
    return web.Response(body=data, content_type="application/octet-stream")


# -- writes and requests -------------------------------------------------------------------------


async def write(request: web.Request) -> web.Response:
    """``{"attributes": {...}, "urn"?: str, "text"?: bool}``: PUT one / PATCH several."""
    check_admin(request)
    ctx = context(request)
    body = _object(await read_json(request, _LIMIT), "write")
    values = body.get("attributes")
    if not isinstance(values, dict) or not values:
        raise ApiError(400, "field 'attributes' must be a non-empty object of name: value")
    return _queued(
        lambda: write_attributes(
            ctx,
            request.match_info["endpoint"],
            values,
            urn=_optional_str(body, "urn"),
            from_text=bool(body.get("text", False)),
        )
    )


async def action(request: web.Request) -> web.Response:
    """``{"value"?: arg, "urn"?: str, "text"?: bool}``: POST an action."""
    check_admin(request)
    body = _object(await read_json(request, _LIMIT, empty={}), "action call")
    return _queue_action(
        request, body, urn=_optional_str(body, "urn"), from_text=bool(body.get("text", False))
    )


def _queued(queue: Callable[[], RequestRecord]) -> web.Response:
    """Run ``queue`` (which checks and stores a REQUEST) and answer 201 with the request's view.

    Every route that sends a device a REQUEST ends here, so a refusal by the device model
    (:class:`WriteRejected`) is the caller's 400 whichever route was used.
    """
    try:
        record = queue()
    except WriteRejected as exc:
        raise ApiError(400, str(exc)) from None
    return json_response(response_view(record), status=201)


def _queue_action(
    request: web.Request, body: dict[str, Any], *, urn: str | None, from_text: bool = False
) -> web.Response:
    """Queue the action named in the path with the body's ``value`` (absent: no argument)."""
    ctx = context(request)
    return _queued(
        lambda: call_action(
            ctx,
            request.match_info["endpoint"],
            request.match_info["name"],
            body.get("value"),
            has_value="value" in body,
            urn=urn,
            from_text=from_text,
        )
    )


def _method(request: web.Request) -> str:
    """The effective method: ``X-HTTP-Method-Override`` (any case) applies to POST."""
    override = request.headers.get("X-HTTP-Method-Override", "").strip().upper()
    return override if request.method == "POST" and override else request.method


async def model_write(request: web.Request) -> web.Response:
    """Enterprise-style paths (§3.4): ``PUT .../deviceModels/{urn}/attributes/{name}`` with
    ``{"value": v}``; ``PATCH`` (or POST + method override) ``.../attributes`` with a map."""
    check_admin(request)
    ctx = context(request)
    method = _method(request)
    body = _object(await read_json(request, _LIMIT), "write")
    name = request.match_info.get("name")
    if name is not None:
        if method != "PUT":
            raise ApiError(405, f"{method} of one attribute: use PUT")
        if "value" not in body:
            raise ApiError(400, "field 'value' is missing")
        values = {name: body["value"]}
    else:
        if method != "PATCH":
            raise ApiError(
                405,
                f"{method} of several attributes: use PATCH or POST with "
                "X-HTTP-Method-Override: PATCH",
            )
        values = body
    return _queued(
        lambda: write_attributes(
            ctx, request.match_info["endpoint"], values, urn=request.match_info["urn"]
        )
    )


async def model_action(request: web.Request) -> web.Response:
    """``POST .../deviceModels/{urn}/actions/{name}`` with ``{"value": arg}`` or ``{}``."""
    check_admin(request)
    body = _object(await read_json(request, _LIMIT, empty={}), "action call")
    return _queue_action(request, body, urn=request.match_info["urn"])


async def raw(request: web.Request) -> web.Response:
    """``{"method", "url", "body"?, "headers"?}``: a REQUEST without model checks."""
    check_admin(request)
    ctx = context(request)
    body = _object(await read_json(request, _LIMIT), "request")
    method, url = body.get("method"), body.get("url")
    if not isinstance(method, str) or not isinstance(url, str):
        raise ApiError(400, "fields 'method' and 'url' must be strings")
    headers = body.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(v, list) and all(isinstance(x, str) for x in v) for v in headers.values()
    ):
        raise ApiError(400, "field 'headers' must map names to lists of strings")
    return _queued(
        lambda: raw_request(
            ctx, request.match_info["endpoint"], method, url, body=body.get("body"), headers=headers
        )
    )


async def get_request(request: web.Request) -> web.Response:
    """A queued request and its RESPONSE; ``?wait=S`` holds until it is answered."""
    check_admin(request)
    ctx = context(request)
    request_id = request.match_info["id"]
    deadline = asyncio.get_running_loop().time() + _wait_param(request)
    while True:
        record = ctx.store.request(request_id)
        if record is None:
            raise ApiError(404, f"no request {request_id!r}")
        remaining = deadline - asyncio.get_running_loop().time()
        if record.state == RequestState.ANSWERED or remaining <= 0 or ctx.closing:
            return json_response(response_view(record))
        await ctx.responses_changed.wait(remaining)


# -- messages and faults ----------------------------------------------------------------------


async def messages(request: web.Request) -> web.Response:
    """Messages after ``?after=SEQ`` (optionally ``endpoint``), holding ``?wait=S`` for new ones."""
    check_admin(request)
    ctx = context(request)
    endpoint = request.query.get("endpoint") or None
    after = _int_param(request, "after", 0, 0, 2**62)
    limit = _int_param(request, "limit", 1000, 1, 10_000)
    deadline = asyncio.get_running_loop().time() + _wait_param(request)
    while True:
        found = ctx.store.messages(endpoint_id=endpoint, after=after, limit=limit)
        remaining = deadline - asyncio.get_running_loop().time()
        if found or remaining <= 0 or ctx.closing:
            last = found[-1].seq if found else after
            return json_response({"items": [m.to_json() for m in found], "last": last})
        await ctx.messages_changed.wait(remaining)


async def set_faults(request: web.Request) -> web.Response:
    """``{"failNext": N}`` or ``{"failForSeconds": S}``, optional ``"status"`` (503)."""
    check_admin(request)
    ctx = context(request)
    body = _object(await read_json(request, _LIMIT), "fault switch")
    status_code = body.get("status", 503)
    try:
        if "failNext" in body:
            ctx.faults.fail_next(int(body["failNext"]), int(status_code))
        elif "failForSeconds" in body:
            ctx.faults.fail_for(float(body["failForSeconds"]), int(status_code))
        else:
            raise ApiError(400, "fault switch needs 'failNext' or 'failForSeconds'")
    except (TypeError, ValueError) as exc:
        raise ApiError(400, str(exc)) from None
    return json_response(ctx.faults.to_json())


async def clear_faults(request: web.Request) -> web.Response:
    """Stop failing."""
    check_admin(request)
    ctx = context(request)
    ctx.faults.clear()
    return json_response(ctx.faults.to_json())


async def revoke_tokens(request: web.Request) -> web.Response:
    """Forget every bearer token (devices get 401 and must fetch a new one)."""
    check_admin(request)
    ctx = context(request)
    count = ctx.tokens.revoke_all() + ctx.storage_tokens.revoke_all()
    return json_response({"revoked": count})


def add_routes(app: web.Application) -> None:
    """Register the admin endpoints."""
    r = app.router
    r.add_get("/local/dashboard", dashboard)
    r.add_get(f"{PREFIX}/status", status)
    r.add_post(f"{PREFIX}/devices", register_device)
    r.add_get(f"{PREFIX}/devices", list_devices)
    r.add_get(f"{PREFIX}/devices/{{id}}", get_device)
    r.add_post(f"{PREFIX}/devices/{{id}}/provisioning", provision)
    r.add_post(f"{PREFIX}/endpoints/{{endpoint}}/writes", write)
    r.add_post(f"{PREFIX}/endpoints/{{endpoint}}/actions/{{name}}", action)
    r.add_post(f"{PREFIX}/endpoints/{{endpoint}}/requests", raw)
    model = f"{PREFIX}/endpoints/{{endpoint}}/deviceModels/{{urn}}"
    r.add_put(f"{model}/attributes/{{name}}", model_write)
    r.add_post(f"{model}/attributes/{{name}}", model_write)
    r.add_patch(f"{model}/attributes", model_write)
    r.add_post(f"{model}/attributes", model_write)
    r.add_post(f"{model}/actions/{{name}}", model_action)
    r.add_get(f"{PREFIX}/requests/{{id}}", get_request)
    r.add_get(f"{PREFIX}/messages", messages)
    r.add_post(f"{PREFIX}/faults", set_faults)
    r.add_delete(f"{PREFIX}/faults", clear_faults)
    r.add_post(f"{PREFIX}/tokens/revoke", revoke_tokens)
    r.add_post("/iot/api/v2/provisioner/device", provisioner_device)
