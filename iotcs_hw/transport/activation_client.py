"""The calls of activation (protocol §2.3, §2.4) and device-model lookup (§4.1) over HTTPS.

Direct activation: policy -> key pair -> signed request (``createDraft=false``) -> endpoint
id persisted with the keys (atomically, and only after checking that the store can be
replaced at all) -> the session switches to RS256 assertions and the empty scope by itself,
because its identity comes from the store.

Indirect activation: a gateway registers a device behind it and gets that device's endpoint id.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from iotcs_hw.errors import ProtocolError, StateException, TransportException
from iotcs_hw.protocol.activation import (
    ActivationPolicy,
    ActivationRequestInvalid,
    ActivationResult,
    DirectActivationRequest,
    IndirectActivationRequest,
    generate_key_pair,
    indirect_activation_signature,
)
from iotcs_hw.transport.http import API_ROOT, HttpSession

log = logging.getLogger(__name__)

POLICY_PATH = API_ROOT + "/activation/policy"
DIRECT_PATH = API_ROOT + "/activation/direct"
INDIRECT_PATH = API_ROOT + "/activation/indirect/device"
MODELS_PATH = API_ROOT + "/deviceModels"


def _json_object(response: Any, what: str) -> dict[str, Any]:
    try:
        doc = response.json()
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise TransportException(
            f"{what}: {response.url} answered {response.status_code} without a JSON object",
            response.status_code,
            response.url,
        )
    return doc


def fetch_policy(session: HttpSession, *, os_name: str, os_version: str) -> ActivationPolicy:
    """``GET /activation/policy``; a 401 there means the server considers us activated."""
    query = urlencode({"OSName": os_name, "OSVersion": os_version})
    response = session.request("GET", f"{POLICY_PATH}?{query}", accept_status=(401,))
    if response.status_code == 401:
        raise StateException(
            f"the server says device {session.assets.client_id!r} is already activated, but "
            f"{session.assets.path} holds no endpoint id: provision a new store for it"
        )
    try:
        return ActivationPolicy.from_json(_json_object(response, "activation policy"))
    except ActivationRequestInvalid as exc:
        raise ProtocolError(f"{response.url}: {exc}") from None


def activate_directly(
    session: HttpSession,
    urns: Iterable[str],
    *,
    create_draft: bool = False,
    os_name: str | None = None,
    os_version: str | None = None,
) -> str:
    """Activate the device of ``session`` implementing ``urns``; return its endpoint id.

    Raises :class:`StateException` if the store is already activated, TransportException /
    SecurityException for server and credential failures, TrustedAssetsError if the store
    cannot be written (checked before the server is asked).
    """
    assets = session.assets
    if assets.is_activated():
        raise StateException(f"{assets.path}: device is already activated")
    policy = fetch_policy(
        session,
        os_name=os_name or platform.system() or "Linux",
        os_version=os_version or platform.release() or "unknown",
    )
    key = generate_key_pair(policy.key_size)
    request = DirectActivationRequest.create(
        assets.client_id,
        assets.assets.shared_secret,
        key,
        urns,
        signature_algorithm=policy.hash_algorithm,
    )
    assets.check_writable()
    path = DIRECT_PATH + ("" if create_draft else "?createDraft=false")
    response = session.request("POST", path, json_body=request.to_json())
    try:
        result = ActivationResult.from_json(_json_object(response, "direct activation"))
    except ActivationRequestInvalid as exc:
        raise ProtocolError(f"{response.url}: {exc}") from None
    assets.set_endpoint_credentials(result.endpoint_id, key)
    session.invalidate_token()
    log.info("device %r activated as endpoint %r", assets.client_id, result.endpoint_id)
    return result.endpoint_id


def register_indirect_device(
    session: HttpSession,
    hardware_id: str,
    metadata: Mapping[str, str],
    urns: Iterable[str],
    *,
    restricted: bool = False,
    create_draft: bool = False,
) -> str:
    """Indirectly activate ``hardware_id`` behind this gateway; return its endpoint id.

    The signature follows §2.4: HMAC with the ICD's secret when the store holds it, else RSA
    with the gateway's key when ``restricted``, else none.
    """
    assets = session.assets
    gateway_id = assets.endpoint_id()
    signature = indirect_activation_signature(
        gateway_id,
        icd_secret=assets.icd_secret(hardware_id),
        gateway_private_key=assets.private_key() if restricted else None,
        restricted=restricted,
    )
    body = IndirectActivationRequest(
        hardware_id=hardware_id,
        device_models=tuple(dict.fromkeys(urns)),
        metadata=dict(metadata),
        signature=signature,
    )
    path = INDIRECT_PATH + ("" if create_draft else "?createDraft=false")
    response = session.request("POST", path, json_body=body.to_json())
    try:
        result = ActivationResult.from_json(_json_object(response, "indirect activation"))
    except ActivationRequestInvalid as exc:
        raise ProtocolError(f"{response.url}: {exc}") from None
    log.info("gateway %r registered %r as %r", gateway_id, hardware_id, result.endpoint_id)
    return result.endpoint_id


def fetch_device_model(session: HttpSession, urn: str) -> dict[str, Any] | None:
    """``GET /deviceModels/<urn>``: the model's JSON, or None when the server answers 404."""
    response = session.request("GET", f"{MODELS_PATH}/{quote(urn, safe=':')}", accept_status=(404,))
    if response.status_code == 404:
        return None
    return _json_object(response, f"device model {urn}")
