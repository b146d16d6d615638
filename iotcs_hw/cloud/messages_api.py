"""``POST /iot/api/v2/messages``: ingest a batch, answer pending requests, hold long polls.

What Oracle's clients send (§10): chunked, sized or absent bodies, ``[]`` every few seconds
beside a held ``iot.sync`` poll, DATETIME values as ISO text (JS) or epoch ms, integral NUMBERs
as JSON integers (Java).  The batch is validated completely before anything is stored and then
stored in one transaction: a bad message refuses the whole batch with a 4xx naming it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from typing import Any

from aiohttp import web

from iotcs_hw.cloud.context import ApiError, CloudContext
from iotcs_hw.cloud.http_util import bearer, check_id_header, context, read_json
from iotcs_hw.cloud.models import WriteRejected, check_reported_data
from iotcs_hw.cloud.pending import encoded, take_deliverable
from iotcs_hw.cloud.storage import DeviceRecord, IncomingMessage, IncomingResponse
from iotcs_hw.cloud.support import ms
from iotcs_hw.errors import MessageFormatError
from iotcs_hw.messaging.message import Message, MessageType, Severity

log = logging.getLogger(__name__)

ATTRIBUTES_SUFFIX = ":attributes"


def _poll_params(request: web.Request, ctx: CloudContext) -> tuple[int, float]:
    """``acceptBytes`` (default 0) and how long to hold (0 without ``iot.sync``)."""
    raw = request.query.get("acceptBytes", "0")
    try:
        accept = int(raw)
    except ValueError:
        raise ApiError(400, f"acceptBytes {raw!r} is not a whole number") from None
    if accept < 0:
        raise ApiError(400, f"acceptBytes {accept} is negative")
    if "iot.sync" not in request.query:
        return accept, 0.0
    hold = ctx.config.default_hold_s
    raw_timeout = request.query.get("iot.timeout")
    if raw_timeout is not None and raw_timeout != "":
        try:
            hold = float(raw_timeout)
        except ValueError:
            raise ApiError(400, f"iot.timeout {raw_timeout!r} is not a number of seconds") from None
        if not hold >= 0:
            raise ApiError(400, f"iot.timeout {raw_timeout!r} must be >= 0")
    return accept, min(hold, ctx.config.max_hold_s)


def _check_payload(msg: Message, ctx: CloudContext, where: str) -> dict[str, Any]:
    """Type-specific checks; returns the payload to store (DATETIMEs normalised)."""
    payload = dict(msg.payload)
    if msg.type is MessageType.REQUEST:
        raise ApiError(400, f"{where}: devices do not send REQUEST messages")
    if msg.type in (MessageType.DATA, MessageType.ALERT):
        fmt, data = payload.get("format"), payload.get("data")
        if not isinstance(fmt, str) or not fmt:
            raise ApiError(400, f"{where}: payload.format must be a non-empty string")
        if not isinstance(data, dict):
            raise ApiError(400, f"{where}: payload.data must be a JSON object")
        if msg.type is MessageType.ALERT and "severity" in payload:
            allowed = [s.value for s in Severity]
            if payload["severity"] not in allowed:
                raise ApiError(
                    400, f"{where}: payload.severity {payload['severity']!r} not in {allowed}"
                )
        if msg.type is MessageType.DATA and fmt.endswith(ATTRIBUTES_SUFFIX):
            model = ctx.registry.get(fmt[: -len(ATTRIBUTES_SUFFIX)])
            if model is not None and not model.draft:
                try:
                    payload["data"] = check_reported_data(model, data)
                except WriteRejected as exc:
                    raise ApiError(400, f"{where}: {exc}") from None
    elif msg.type is MessageType.RESPONSE:
        status = payload.get("statusCode")
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ApiError(400, f"{where}: payload.statusCode {status!r} is not an HTTP status")
        rid = payload.get("requestId", "")
        if not isinstance(rid, str):
            raise ApiError(400, f"{where}: payload.requestId must be a string")
        body = payload.get("body", "")
        if body is None:
            body = ""
        if not isinstance(body, str):
            raise ApiError(400, f"{where}: payload.body must be a base64 string")
        try:
            base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, f"{where}: payload.body is not base64") from None
    return payload


def _validate_batch(
    ctx: CloudContext, poster: DeviceRecord, batch: list[Any]
) -> tuple[list[IncomingMessage], list[IncomingResponse]]:
    """Check every message; the messages to store and the RESPONSEs among them."""
    assert poster.endpoint_id is not None
    allowed_sources = {poster.endpoint_id}
    stored: list[IncomingMessage] = []
    responses: list[IncomingResponse] = []
    for i, item in enumerate(batch):
        where = f"message [{i}]"
        raw = item
        if isinstance(item, dict) and not item.get("source"):
            raw = {**item, "source": poster.endpoint_id}
        try:
            msg = Message.from_json(raw)
        except MessageFormatError as exc:
            raise ApiError(400, f"{where}: {exc}") from None
        if msg.source not in allowed_sources:
            icd = ctx.store.device_by_endpoint(msg.source)
            if icd is None or icd.gateway != poster.endpoint_id:
                raise ApiError(
                    403,
                    f"{where}: source {msg.source!r} is neither {poster.endpoint_id!r} nor one "
                    "of its indirectly connected devices",
                )
            allowed_sources.add(msg.source)
        envelope = msg.to_json()
        envelope["payload"] = payload = _check_payload(msg, ctx, where)
        text = json.dumps(envelope, separators=(",", ":"), allow_nan=False)
        size = len(text.encode("utf-8"))
        if size > ctx.config.max_message_bytes:
            raise ApiError(
                413, f"{where}: {size} bytes exceeds the {ctx.config.max_message_bytes} limit"
            )
        stored.append(IncomingMessage(msg.source, msg.type.value, text))
        if msg.type is MessageType.RESPONSE:
            payload_text = json.dumps(payload, separators=(",", ":"), allow_nan=False)
            responses.append(IncomingResponse(str(payload.get("requestId", "")), payload_text))
    return stored, responses


async def post_messages(request: web.Request) -> web.StreamResponse:
    """Store the batch, then answer with the REQUESTs pending for this device (§3.1)."""
    ctx = context(request)
    failing = ctx.faults.should_fail()
    if failing is not None:
        raise ApiError(failing, "the server is failing message POSTs on purpose (fault switch)")
    tok = bearer(request, scope="")
    check_id_header(request, "X-EndpointId", tok.subject)
    poster = ctx.store.device_by_endpoint(tok.subject)
    if poster is None or poster.endpoint_id is None:
        raise ApiError(401, f"endpoint {tok.subject!r} is no longer registered")
    accept_bytes, hold_s = _poll_params(request, ctx)
    batch = await read_json(request, ctx.config.max_body_bytes, empty=[])
    if not isinstance(batch, list):
        raise ApiError(400, f"messages body must be a JSON array, got {type(batch).__name__}")
    stored, responses = _validate_batch(ctx, poster, batch)
    if stored:
        ctx.store.ingest(ms(ctx.clock), poster.endpoint_id, stored, responses)
        ctx.messages_changed.notify()
        if responses:
            ctx.responses_changed.notify()
    return await _answer(
        request,
        ctx,
        poster.endpoint_id,
        accept_bytes=accept_bytes,
        hold_s=hold_s,
        carried_messages=bool(stored),
    )


async def _answer(
    request: web.Request,
    ctx: CloudContext,
    owner: str,
    *,
    accept_bytes: int,
    hold_s: float,
    carried_messages: bool,
) -> web.StreamResponse:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + hold_s
    wakeup = ctx.requests_for(owner)
    while True:
        transport = request.transport
        if transport is None or transport.is_closing():
            return web.Response(status=499)  # the client left; nothing was handed out
        records, min_bytes = take_deliverable(ctx, owner, accept_bytes)
        # A request too big for acceptBytes ends an ordinary POST at once; a long poll keeps
        # holding (else a client whose buffer never fits it would poll in a tight loop).
        if records or (min_bytes is not None and hold_s <= 0):
            break
        remaining = deadline - loop.time()
        if remaining <= 0 or ctx.closing:
            break
        ctx.poll_held(owner, +1)
        try:
            await wakeup.wait(remaining)
        finally:
            ctx.poll_held(owner, -1)
    headers = {} if min_bytes is None else {"X-min-acceptBytes": str(min_bytes)}
    body = "[" + ",".join(encoded(r) for r in records) + "]"
    response = web.Response(
        body=body.encode("utf-8"),
        status=202 if carried_messages else 200,
        content_type="application/json",
        headers=headers,
    )
    if not records:
        return response
    loop.call_later(ctx.config.redeliver_after_s, wakeup.notify)
    try:
        await response.prepare(request)
        await response.write_eof()
    except (ConnectionError, RuntimeError) as exc:
        log.info("could not hand %d request(s) to %s (%s); re-queued", len(records), owner, exc)
        ctx.store.mark_queued([r.id for r in records])
        wakeup.notify()
    return response


def add_routes(app: web.Application) -> None:
    """Register this module's endpoint."""
    app.router.add_post("/iot/api/v2/messages", post_messages)
