"""Token, activation and device-model endpoints of the local server (protocol §2, §4, §9).

The checks are those of §9.2: an activation-scope token is granted for an HS256 assertion signed
with the device's shared secret and opens only the activation endpoints and model reads; an
endpoint token (empty scope) is granted for an RS256 assertion signed with the key registered at
activation and opens messages and storage.  Assertions are parsed and verified by the shared
:mod:`iotcs_hw.protocol.jwt`, activation bodies by :mod:`iotcs_hw.protocol.activation`.
"""

from __future__ import annotations

import secrets
from dataclasses import replace

from aiohttp import web

from iotcs_hw.cloud.context import ApiError, json_response
from iotcs_hw.cloud.http_util import (
    ACTIVATION_SCOPE,
    bearer,
    check_id_header,
    context,
    has_admin_token,
    read_body,
    read_json,
)
from iotcs_hw.cloud.models import CAPABILITY_PREFIX, DeviceModel, parse_model
from iotcs_hw.cloud.storage import DeviceRecord
from iotcs_hw.cloud.support import ms
from iotcs_hw.errors import DeviceModelError
from iotcs_hw.protocol.activation import (
    ActivationPolicy,
    ActivationRequestInvalid,
    ActivationResult,
    ActivationSignatureInvalid,
    DirectActivationRequest,
    IndirectActivationRequest,
    verify_indirect_activation_signature,
)
from iotcs_hw.protocol.jwt import (
    AssertionTimeInvalid,
    ClientAssertionError,
    MalformedAssertion,
    parse_assertion,
    parse_token_request,
)

#: ``expires_in`` is read as milliseconds by Java; JS ignores it (§2.2, §10.3.4).
_FORM_LIMIT = 64 * 1024
_JSON_LIMIT = 256 * 1024


def new_endpoint_id() -> str:
    """An endpoint id in the shape IoTCS uses (``0-`` + upper-case hex)."""
    return "0-" + secrets.token_hex(10).upper()


async def token(request: web.Request) -> web.Response:
    """``POST /iot/api/v2/oauth2/token``: client assertion in, bearer token out."""
    ctx = context(request)
    body = await read_body(request, _FORM_LIMIT)
    try:
        form = parse_token_request(body.decode("utf-8"))
        assertion = parse_assertion(form.assertion)
    except UnicodeDecodeError:
        raise ApiError(
            400, "token request is not UTF-8 form data", error="invalid_request"
        ) from None
    except MalformedAssertion as exc:
        raise ApiError(400, str(exc), error="invalid_request") from None
    if not any(pair.partition(b"=")[0].strip() == b"scope" for pair in body.split(b"&")):
        raise ApiError(400, "token request lacks field 'scope'", error="invalid_scope")
    if form.scope not in (ACTIVATION_SCOPE, ""):
        raise ApiError(
            400,
            f"scope {form.scope!r}: expected {ACTIVATION_SCOPE!r} or empty",
            error="invalid_scope",
        )
    issuer = assertion.issuer
    now_s = ctx.clock.time()
    if form.scope == ACTIVATION_SCOPE:
        device = ctx.store.device(issuer)
        if device is None or device.gateway is not None or device.shared_secret is None:
            raise ApiError(401, f"unknown activation id {issuer!r}", error="invalid_client")
        if assertion.alg != "HS256":
            raise ApiError(
                401, "an activation token needs an HS256 assertion", error="invalid_client"
            )
        secret: bytes | None = device.shared_secret.encode("utf-8")
        public_key: bytes | None = None
    else:
        device = ctx.store.device_by_endpoint(issuer)
        if device is None or device.public_key_der is None:
            raise ApiError(401, f"unknown endpoint id {issuer!r}", error="invalid_client")
        if assertion.alg != "RS256":
            raise ApiError(
                401, "an endpoint token needs an RS256 assertion", error="invalid_client"
            )
        secret, public_key = None, device.public_key_der
    try:
        assertion.verify(now_s=now_s, shared_secret=secret, public_key=public_key)
    except AssertionTimeInvalid as exc:
        raise ApiError(
            400, str(exc), error="invalid_grant", currentTime=int(now_s * 1000)
        ) from None
    except ClientAssertionError as exc:  # forged signature, wrong aud or sub
        raise ApiError(401, str(exc), error="invalid_client") from None
    issued = ctx.tokens.issue(issuer, form.scope)
    return json_response(
        {
            "access_token": issued.value,
            "token_type": "Bearer",
            "expires_in": int(ctx.tokens.lifetime_s * 1000),
        }
    )


def _activation_device(request: web.Request) -> DeviceRecord:
    tok = bearer(request, scope=ACTIVATION_SCOPE)
    check_id_header(request, "X-ActivationId", tok.subject)
    device = context(request).store.device(tok.subject)
    if device is None:
        raise ApiError(401, f"device {tok.subject!r} is no longer registered")
    if device.is_activated:
        raise ApiError(401, f"device {tok.subject!r} is already activated", error="activated")
    return device


async def activation_policy(request: web.Request) -> web.Response:
    """``GET /iot/api/v2/activation/policy``: 401 once the device is activated (§9.3)."""
    _activation_device(request)
    policy = ActivationPolicy(key_size=context(request).config.activation_key_size)
    return json_response(policy.to_json())


def _create_draft(request: web.Request) -> bool:
    raw = request.query.get("createDraft", "true").strip().lower()
    if raw not in ("true", "false", ""):
        raise ApiError(400, f"createDraft {raw!r}: expected true or false")
    return raw != "false"


def _resolve_models(request: web.Request, urns: tuple[str, ...]) -> tuple[str, ...]:
    """Check that every URN is known; with ``createDraft`` (the default) add drafts instead."""
    ctx = context(request)
    draft = _create_draft(request)
    for urn in urns:
        if not urn.startswith("urn:"):
            raise ApiError(400, f"deviceModels: {urn!r} is not a URN")
        if ctx.registry.get(urn) is not None or urn.startswith(CAPABILITY_PREFIX):
            continue
        if not draft:
            raise ApiError(400, f"deviceModels: unknown device model {urn!r} (createDraft=false)")
        doc = {"urn": urn, "name": urn.rsplit(":", 1)[-1], "draft": True}
        doc.update({"attributes": [], "actions": [], "formats": []})
        ctx.registry.add(parse_model(doc, f"draft {urn}"))
        ctx.store.add_model_document(urn, doc)
    return urns


async def activation_direct(request: web.Request) -> web.Response:
    """``POST /iot/api/v2/activation/direct``: verify the §2.3 signature, assign an endpoint."""
    ctx = context(request)
    device = _activation_device(request)
    body = await read_json(request, _JSON_LIMIT)
    try:
        req = DirectActivationRequest.from_json(body)
        if req.subject != device.activation_id:
            raise ApiError(
                400,
                f"certificationRequestInfo.subject {req.subject!r} is not the token's "
                f"activation id {device.activation_id!r}",
            )
        assert device.shared_secret is not None
        req.verify(device.shared_secret.encode("utf-8"))
    except ActivationRequestInvalid as exc:
        raise ApiError(400, str(exc)) from None
    except ActivationSignatureInvalid as exc:
        raise ApiError(401, str(exc)) from None
    models = _resolve_models(request, req.device_models)
    now = ms(ctx.clock)
    activated = replace(
        device,
        state="ACTIVATED",
        endpoint_id=new_endpoint_id(),
        public_key_der=req.public_key,
        models=models,
        activated_ms=now,
    )
    ctx.store.activate(activated)
    assert activated.endpoint_id is not None
    return json_response(ActivationResult(activated.endpoint_id, activation_time=now).to_json())


async def activation_indirect(request: web.Request) -> web.Response:
    """``POST /iot/api/v2/activation/indirect/device``: a gateway registers a device behind it."""
    ctx = context(request)
    tok = bearer(request, scope="")
    check_id_header(request, "X-EndpointId", tok.subject)
    gateway = ctx.store.device_by_endpoint(tok.subject)
    if gateway is None or gateway.gateway is not None:
        raise ApiError(403, f"endpoint {tok.subject!r} is not a gateway")
    body = await read_json(request, _JSON_LIMIT)
    try:
        req = IndirectActivationRequest.from_json(body)
    except ActivationRequestInvalid as exc:
        raise ApiError(400, str(exc)) from None
    models = _resolve_models(request, req.device_models)
    known = ctx.store.device(req.hardware_id)
    if known is not None and known.is_activated and known.gateway is None:
        raise ApiError(409, f"{req.hardware_id!r} is activated as a directly connected device")
    secret = known.shared_secret.encode("utf-8") if known and known.shared_secret else None
    try:
        kind = verify_indirect_activation_signature(
            req.signature,
            tok.subject,
            icd_secret=secret,
            gateway_public_key=gateway.public_key_der,
        )
    except ActivationSignatureInvalid as exc:
        raise ApiError(401, str(exc)) from None
    if secret is not None and kind == "none":
        raise ApiError(401, f"{req.hardware_id!r} has a shared secret: a signature is required")
    now = ms(ctx.clock)
    if known is not None and known.is_activated:
        if known.gateway != tok.subject:
            raise ApiError(
                409, f"{req.hardware_id!r} is already registered behind gateway {known.gateway!r}"
            )
        updated = replace(known, models=models, metadata=dict(req.metadata))
        ctx.store.activate(updated)
        assert known.endpoint_id is not None
        return json_response(
            ActivationResult(known.endpoint_id, activation_time=known.activated_ms).to_json()
        )
    record = DeviceRecord(
        activation_id=req.hardware_id,
        shared_secret=known.shared_secret if known else None,
        state="ACTIVATED",
        endpoint_id=new_endpoint_id(),
        models=models,
        gateway=tok.subject,
        metadata=dict(req.metadata),
        activated_ms=now,
    )
    if known is None:
        ctx.store.add_device(replace(record, state="REGISTERED", endpoint_id=None))
    ctx.store.activate(record)
    assert record.endpoint_id is not None
    return json_response(ActivationResult(record.endpoint_id, activation_time=now).to_json())


async def get_model(request: web.Request) -> web.Response:
    """``GET /iot/api/v2/deviceModels/{urn}`` (``expand`` ignored); any live token."""
    model = _model_in_path(request)
    doc = dict(model.document)
    doc.setdefault("urn", model.urn)
    doc.setdefault("formats", [])
    return json_response(doc)


async def get_model_formats(request: web.Request) -> web.Response:
    """``GET /iot/api/v2/deviceModels/{urn}/formats``."""
    model = _model_in_path(request)
    formats = model.document.get("formats") or []
    return json_response({"items": formats, "count": len(formats)})


async def device_policies(request: web.Request) -> web.Response:
    """``GET /iot/privateapi/v2/deviceModels/{urn}/devicePolicies``: no policies (§10.2)."""
    _model_reader(request)
    return json_response({"items": []})


def _model_reader(request: web.Request) -> None:
    if has_admin_token(request):
        return
    bearer(request, scope=None)


def _model_in_path(request: web.Request) -> DeviceModel:
    """The model named by ``{urn}``, for any live token; 404 (after the token check) if unknown.

    The token is checked first so that an unauthenticated caller learns nothing about which
    models exist.
    """
    _model_reader(request)
    urn = request.match_info["urn"]
    model = context(request).registry.get(urn)
    if model is None:
        raise ApiError(404, f"no device model {urn!r}")
    return model


async def post_model(request: web.Request) -> web.Response:
    """``POST /iot/api/v2/deviceModels``: add a model (admin token; 201, 409 if it exists)."""
    ctx = context(request)
    if not has_admin_token(request):
        raise ApiError(401, "adding device models needs the admin token")
    doc = await read_json(request, ctx.config.max_body_bytes)
    try:
        model = parse_model(doc, "posted device model")
    except DeviceModelError as exc:
        raise ApiError(400, str(exc)) from None
    existing = ctx.registry.get(model.urn)
    if existing is not None and not existing.draft:
        raise ApiError(409, f"device model {model.urn!r} already exists")
    ctx.registry.add(model)
    ctx.store.add_model_document(model.urn, dict(model.document))
    return json_response(dict(model.document), status=201)


def add_routes(app: web.Application) -> None:
    """Register this module's endpoints."""
    app.router.add_post("/iot/api/v2/oauth2/token", token)
    app.router.add_get("/iot/api/v2/activation/policy", activation_policy)
    app.router.add_post("/iot/api/v2/activation/direct", activation_direct)
    app.router.add_post("/iot/api/v2/activation/indirect/device", activation_indirect)
    app.router.add_post("/iot/api/v2/deviceModels", post_model)
    app.router.add_get("/iot/api/v2/deviceModels/{urn}", get_model)
    app.router.add_get("/iot/api/v2/deviceModels/{urn}/formats", get_model_formats)
    app.router.add_get("/iot/privateapi/v2/deviceModels/{urn}/devicePolicies", device_policies)
