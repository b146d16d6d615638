"""Cloud writes to a device, checked against its device model before anything is queued.

The three shapes of §3.4: PUT one attribute (``{"value": v}``), several attributes at once
(POST with ``x-http-method-override: PATCH``, ``{"a": v, "b": w}``) and POST an action
(``{"value": arg}`` or ``{}``).  A write that names an unknown or read-only attribute, a value of
the wrong type or out of range, or a device without that model is refused with a message that
says which and why; nothing reaches the device.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from iotcs_hw.cloud.context import ApiError, CloudContext
from iotcs_hw.cloud.models import (
    CAPABILITY_PREFIX,
    DeviceModel,
    WriteRejected,
    check_action_call,
    check_attribute_write,
    no_argument,
)
from iotcs_hw.cloud.pending import queue_request
from iotcs_hw.cloud.storage import DeviceRecord, RequestRecord


def target_device(ctx: CloudContext, endpoint_id: str) -> DeviceRecord:
    """The activated device with ``endpoint_id``, or a 404 naming it."""
    device = ctx.store.device_by_endpoint(endpoint_id)
    if device is None:
        raise ApiError(404, f"no activated device with endpoint id {endpoint_id!r}")
    return device


def _models_of(ctx: CloudContext, device: DeviceRecord) -> list[DeviceModel]:
    found = []
    for urn in device.models:
        if urn.startswith(CAPABILITY_PREFIX):
            continue
        model = ctx.registry.get(urn)
        if model is not None:
            found.append(model)
    return found


def pick_model(
    ctx: CloudContext,
    device: DeviceRecord,
    urn: str | None,
    *,
    attributes: list[str] | None = None,
    action: str | None = None,
) -> DeviceModel:
    """The model a write targets: ``urn`` if given, else the one model that has the names."""
    if urn is not None:
        if urn not in device.models:
            raise WriteRejected(
                f"device {device.endpoint_id} does not implement {urn!r} "
                f"(it has: {', '.join(device.models) or 'none'})"
            )
        model = ctx.registry.get(urn)
        if model is None:
            raise WriteRejected(f"device model {urn!r} is not known to this server")
        return model
    models = _models_of(ctx, device)
    if not models:
        raise WriteRejected(f"device {device.endpoint_id} has no known device model")
    if attributes is not None:
        fits = [m for m in models if all(m.attribute(a) is not None for a in attributes)]
        wanted = "attribute(s) " + ", ".join(repr(a) for a in attributes)
    else:
        fits = [m for m in models if action is not None and m.action(action) is not None]
        wanted = f"action {action!r}"
    if len(fits) == 1:
        return fits[0]
    if not fits:
        if len(models) == 1:
            return models[0]  # let the model check name what is wrong
        urns = ", ".join(m.urn for m in models)
        raise WriteRejected(f"no device model of {device.endpoint_id} has {wanted} ({urns})")
    urns = ", ".join(m.urn for m in fits)
    raise WriteRejected(f"{wanted} exists in several models ({urns}); name the model urn")


def _body(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("utf-8")


def write_attributes(
    ctx: CloudContext,
    endpoint_id: str,
    values: Mapping[str, object],
    *,
    urn: str | None = None,
    from_text: bool = False,
) -> RequestRecord:
    """Validate and queue a write of one (PUT) or several (PATCH) attributes."""
    device = target_device(ctx, endpoint_id)
    model = pick_model(ctx, device, urn, attributes=list(values))
    checked = check_attribute_write(model, values, from_text=from_text)
    base = f"deviceModels/{model.urn}/attributes"
    if len(checked) == 1:
        ((name, value),) = checked.items()
        return queue_request(ctx, device, "PUT", f"{base}/{name}", _body({"value": value}))
    return queue_request(
        ctx,
        device,
        "POST",
        base,
        _body(checked),
        headers={"x-http-method-override": ["PATCH"]},
    )


def call_action(
    ctx: CloudContext,
    endpoint_id: str,
    action: str,
    value: object = None,
    *,
    has_value: bool = False,
    urn: str | None = None,
    from_text: bool = False,
) -> RequestRecord:
    """Validate and queue an action call."""
    device = target_device(ctx, endpoint_id)
    model = pick_model(ctx, device, urn, action=action)
    name, arg = check_action_call(
        model, action, value if has_value else no_argument(), from_text=from_text
    )
    body = {} if arg is no_argument() else {"value": arg}
    return queue_request(
        ctx, device, "POST", f"deviceModels/{model.urn}/actions/{name}", _body(body)
    )


def raw_request(
    ctx: CloudContext,
    endpoint_id: str,
    method: str,
    url: str,
    *,
    body: object = None,
    headers: Mapping[str, list[str]] | None = None,
) -> RequestRecord:
    """Queue a REQUEST without model checks (capability resources such as counters)."""
    device = target_device(ctx, endpoint_id)
    if not url.startswith("deviceModels/"):
        raise WriteRejected(f"request url {url!r} must start with 'deviceModels/'")
    if method.upper() not in ("GET", "PUT", "POST", "PATCH", "DELETE"):
        raise WriteRejected(f"request method {method!r} is not GET, PUT, POST, PATCH or DELETE")
    if body is None:
        data = b""
    elif isinstance(body, str):
        data = body.encode("utf-8")
    else:
        data = _body(body) if isinstance(body, dict) else json.dumps(body).encode("utf-8")
    return queue_request(ctx, device, method.upper(), url, data, headers=headers)
