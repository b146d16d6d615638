"""``GatewayDevice``: a directly connected device that registers devices behind it (§2.4).

The gateway activates itself like any directly connected device (announcing the
``indirect_activation`` capability), then ``registerDevice`` indirectly activates each device
it fronts and returns that device's endpoint id.  Messages of those devices travel on the
gateway's own connection with the indirect device's endpoint id as ``source``.

>>> gw = GatewayDevice("/etc/iotcs/gateway.bin")  # doctest: +SKIP
>>> gw.activate()  # doctest: +SKIP
>>> icd = gw.registerDevice("sensor-7", {GatewayDevice.MANUFACTURER: "ACME"},
...                         "urn:com:example:thermometer")  # doctest: +SKIP
>>> vd = gw.createVirtualDevice(icd, gw.getDeviceModel("urn:com:example:thermometer"))
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, overload

from iotcs_hw.client.directly_connected import DirectlyConnectedDevice
from iotcs_hw.errors import StateException
from iotcs_hw.protocol import activation as proto
from iotcs_hw.transport.activation_client import register_indirect_device


class GatewayDevice(DirectlyConnectedDevice):
    """A gateway (Oracle's ``GatewayDevice``); arguments as for DirectlyConnectedDevice."""

    MANUFACTURER = proto.MANUFACTURER
    MODEL_NUMBER = proto.MODEL_NUMBER
    SERIAL_NUMBER = proto.SERIAL_NUMBER
    DEVICE_CLASS = proto.DEVICE_CLASS
    PROTOCOL = proto.PROTOCOL
    PROTOCOL_DEVICE_CLASS = proto.PROTOCOL_DEVICE_CLASS
    PROTOCOL_DEVICE_ID = proto.PROTOCOL_DEVICE_ID

    CAPABILITY_URNS = (*DirectlyConnectedDevice.CAPABILITY_URNS, proto.INDIRECT_ACTIVATION_URN)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._registered: dict[str, frozenset[str]] = {}
        self._registered_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    @overload
    def registerDevice(
        self, hardwareId: str, metaData: Mapping[str, str] | None, /, *deviceModelUrns: str
    ) -> str: ...

    @overload
    def registerDevice(
        self,
        restricted: bool,
        hardwareId: str,
        metaData: Mapping[str, str] | None,
        /,
        *deviceModelUrns: str,
    ) -> str: ...

    def registerDevice(self, *args: Any) -> str:
        """Register an indirectly connected device; return its endpoint id.

        ``registerDevice([restricted,] hardwareId, metaData, *deviceModelUrns)``: a restricted
        device may only connect through this gateway.  ``metaData`` maps the key constants
        (MANUFACTURER, ...) and any other string keys to strings.

        Raises :class:`StateException` before the gateway is activated, ValueError for bad
        arguments, TransportException / SecurityException when the server refuses.
        """
        restricted = False
        if args and isinstance(args[0], bool):
            restricted, args = args[0], args[1:]
        if len(args) < 3:
            raise ValueError(
                "registerDevice needs ([restricted,] hardwareId, metaData, *deviceModelUrns) "
                "with at least one device model URN"
            )
        hardware_id, metadata, urns = args[0], args[1], tuple(args[2:])
        if not isinstance(hardware_id, str) or not hardware_id:
            raise ValueError(f"hardwareId must be a non-empty string, got {hardware_id!r}")
        if metadata is None:
            metadata = {}
        if not isinstance(metadata, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            raise ValueError(f"metaData must map strings to strings, got {metadata!r}")
        for urn in urns:
            if not isinstance(urn, str) or not urn:
                raise ValueError(f"device model URNs must be non-empty strings, got {urn!r}")
        self._check_open()
        if not self.isActivated():
            raise StateException(
                f"{self.session.assets.path}: activate the gateway before registering devices"
            )
        endpoint_id = register_indirect_device(
            self.session, hardware_id, metadata, urns, restricted=restricted
        )
        with self._registered_lock:
            self._registered[endpoint_id] = frozenset(urns)
        return endpoint_id

    def _implements(self, endpointId: str, urn: str) -> bool:
        """Devices registered by this gateway implement what they were registered with."""
        with self._registered_lock:
            urns = self._registered.get(endpointId)
        return True if urns is None else urn in urns
