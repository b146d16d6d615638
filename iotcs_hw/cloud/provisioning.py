"""Provisioning files: the console's "download provisioning file", as a unified store (§1.2).

The store carries the server URI, the activation id and shared secret, the server's CA as the
only trust anchor (Oracle's clients then trust nothing else, §10.1) and, for a gateway, the
secrets of the indirectly connected devices it may register.  Encoding is done by the shared
:mod:`iotcs_hw.protocol.unified_store`, byte-compatible with Oracle's clients.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iotcs_hw.cloud.app_client import AppClient, CloudApiError
from iotcs_hw.errors import ConfigError
from iotcs_hw.protocol.unified_store import TrustedAssets, encrypt_store, write_atomically

if TYPE_CHECKING:
    from iotcs_hw.cloud.context import CloudContext
    from iotcs_hw.cloud.storage import DeviceRecord


def provisioning_file(
    ctx: CloudContext,
    device: DeviceRecord,
    server_uri: str,
    password: str,
    connected_devices: Sequence[str] = (),
) -> bytes:
    """The encrypted store bytes for ``device``.

    Raises :class:`ConfigError` when the device has no shared secret (an indirectly connected
    device registered by a gateway) or is already activated (its store would be useless: the
    server refuses a second activation), or a connected device is unknown.
    """
    if device.shared_secret is None:
        raise ConfigError(f"device {device.activation_id!r} has no shared secret to provision")
    if device.is_activated:
        raise ConfigError(
            f"device {device.activation_id!r} is already activated as {device.endpoint_id}; "
            "its provisioning file would not activate again"
        )
    icds: dict[str, bytes] = {}
    for icd in connected_devices:
        record = ctx.store.device(icd)
        if record is None or record.shared_secret is None:
            raise ConfigError(f"connected device {icd!r} is not registered with a secret")
        icds[icd] = record.shared_secret.encode("utf-8")
    assets = TrustedAssets(
        server_uri=server_uri,
        client_id=device.activation_id,
        shared_secret=device.shared_secret.encode("utf-8"),
        trust_anchors=(ctx.tls.ca_der(),),
        connected_devices=icds,
    )
    return encrypt_store(assets, password)


def provision_device(
    client: AppClient,
    device_id: str,
    out: Path,
    password: str,
    *,
    force: bool = False,
    connected_devices: Sequence[str] = (),
) -> dict[str, Any]:
    """Register ``device_id`` (or reuse its registration) and write its store to ``out``.

    ``connected_devices`` (for a gateway) are registered with fresh secrets that the store
    carries, so the gateway can sign their indirect activation.

    Runs in the caller's process against a running server (through ``client``).  ``out`` is
    written atomically and 0600; an existing file is kept unless ``force`` (it may be the store
    of an activated device).  Returns the device view.  Raises :class:`ConfigError` for an
    existing ``out`` or a device that is already activated.
    """
    if out.exists() and not force:
        raise ConfigError(f"{out} exists; not overwriting it (pass --force to replace it)")
    if not password:
        raise ConfigError("the store password is empty")
    try:
        view = client.register_device(device_id, connected_devices=dict.fromkeys(connected_devices))
    except CloudApiError as exc:
        if exc.status != 409:
            raise
        view = client.device(device_id)
        if connected_devices:
            raise ConfigError(
                f"device {device_id!r} is already registered; its connected devices cannot "
                "be changed here"
            ) from None
    data = client.provisioning_file(device_id, password)
    write_atomically(out, data, mode=0o600)
    return view
