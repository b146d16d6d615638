"""Requests waiting for devices: queueing, hand-out within ``acceptBytes``, redelivery.

A REQUEST is queued for its destination endpoint; the *owner* is the endpoint whose messages
POSTs collect it (the device itself, or the gateway of an indirectly connected device).  Each
REQUEST is handed to exactly one POST of its owner (whichever answers first; §10.3.7) and is
then OFFERED.  It is only done when its RESPONSE arrives: if writing the answer fails it goes
back to QUEUED at once, and if no RESPONSE comes within ``redeliver_after_s`` (a poll of a
process that died, §10.1) it is offered again.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from typing import Any

from iotcs_hw.cloud.context import ApiError, CloudContext
from iotcs_hw.cloud.storage import DeviceRecord, RequestRecord, RequestState
from iotcs_hw.cloud.support import ms
from iotcs_hw.messaging.message import Message, MessageType, Priority, Reliability

#: ``source`` of the REQUESTs this server sends (the RESPONSE comes back addressed to it).
SERVER_SOURCE = "iotserver"


def owner_of(device: DeviceRecord) -> str:
    """The endpoint that polls for ``device``'s requests."""
    assert device.endpoint_id is not None
    return device.gateway or device.endpoint_id


def encoded(record: RequestRecord) -> str:
    """The compact JSON of a queued REQUEST as it goes on the wire."""
    return json.dumps(record.message, separators=(",", ":"), allow_nan=False)


def queue_request(
    ctx: CloudContext,
    device: DeviceRecord,
    method: str,
    url: str,
    body: bytes,
    *,
    headers: Mapping[str, list[str]] | None = None,
    params: Mapping[str, str] | None = None,
) -> RequestRecord:
    """Queue one REQUEST for ``device`` and wake its owner's waiting poll."""
    if not device.is_activated or device.endpoint_id is None:
        raise ApiError(409, f"device {device.activation_id!r} is not activated")
    request_id = str(uuid.uuid4())
    now = ms(ctx.clock)
    message = Message(
        type=MessageType.REQUEST,
        source=SERVER_SOURCE,
        destination=device.endpoint_id,
        payload={
            "method": method,
            "url": url,
            "headers": {k.lower(): list(v) for k, v in (headers or {}).items()},
            "params": dict(params or {}),
            "body": base64.b64encode(body).decode("ascii"),
        },
        priority=Priority.HIGHEST,
        reliability=Reliability.BEST_EFFORT,
        event_time=now,
        id=request_id,
    )
    record = RequestRecord(
        id=request_id,
        destination=device.endpoint_id,
        owner=owner_of(device),
        message=message.to_json(),
        state=RequestState.QUEUED,
        created_ms=now,
    )
    ctx.store.add_request(record)
    ctx.requests_for(record.owner).notify()
    return record


def take_deliverable(
    ctx: CloudContext, owner: str, accept_bytes: int
) -> tuple[list[RequestRecord], int | None]:
    """Hand out what fits in ``accept_bytes``; marks them OFFERED.

    Returns the records (in queue order) and, when the first pending request does not fit,
    the size it needs (``X-min-acceptBytes``).  ``accept_bytes`` 0 means "send me nothing"
    (Java's ordinary sends) and never sets the header.
    """
    if accept_bytes <= 0:
        return [], None
    now = ms(ctx.clock)
    redeliver_ms = int(ctx.config.redeliver_after_s * 1000)
    pending = ctx.store.deliverable(owner, now - redeliver_ms)
    chosen: list[RequestRecord] = []
    used = 2  # "[" and "]"
    for record in pending:
        size = len(encoded(record).encode("utf-8")) + (1 if chosen else 0)
        if used + size > accept_bytes:
            if not chosen:
                return [], size + 2
            break
        chosen.append(record)
        used += size
    if chosen:
        ctx.store.mark_offered([r.id for r in chosen], now)
    return chosen, None


def response_view(record: RequestRecord) -> dict[str, Any]:
    """The admin view of a request, with the RESPONSE body decoded for people."""
    out = record.to_json()
    response = record.response
    if response is not None:
        text: str | None = None
        raw = response.get("body")
        if isinstance(raw, str):
            try:
                text = base64.b64decode(raw, validate=True).decode("utf-8")
            except ValueError:
                text = None
        out["statusCode"] = response.get("statusCode")
        out["bodyText"] = text
    return out
