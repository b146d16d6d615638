"""Alerts and custom data messages of a virtual device (Oracle's ``Alert`` and ``Data``).

``vd.createAlert(urn).set("temp", 41.2).raise_()`` sends an ALERT (priority HIGHEST,
GUARANTEED_DELIVERY, severity SIGNIFICANT unless set); ``createData(urn)...submit()`` a DATA
message in a custom format.  Fields are validated like attributes; a missing non-optional
field refuses to send.  After sending, the fields are cleared for the next use.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from iotcs_hw.client.device_model import DeviceModelFormat, FormatType
from iotcs_hw.client.events import (
    ErrorEvent,
    ErrorHandler,
    NamedValue,
    check_callback,
)
from iotcs_hw.client.values import encode_value, validate_value
from iotcs_hw.messaging.message import Message, Severity, alert_message, data_message

if TYPE_CHECKING:
    from iotcs_hw.client.virtual_device import VirtualDevice


class _FormatMessage:
    """What Alert and Data share: a format, validated fields, an error callback."""

    _KIND: FormatType

    def __init__(self, device: VirtualDevice, formatUrn: str) -> None:
        fmt = device.getDeviceModel().format(formatUrn) if formatUrn is not None else None
        if fmt is None or fmt.type is not self._KIND:
            known = [
                f.urn
                for f in device.getDeviceModel().getDeviceModelFormats().values()
                if f.type is self._KIND
            ]
            article = "an" if self._KIND is FormatType.ALERT else "a"
            raise ValueError(
                f"{formatUrn!r} is not {article} {self._KIND.value} format of "
                f"{device.getDeviceModel().getURN()} ({self._KIND.value} formats: "
                f"{', '.join(known) or 'none'})"
            )
        self._device = device
        self._format: DeviceModelFormat = fmt
        self._fields: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._on_error: ErrorHandler | None = None

    def getFormat(self) -> DeviceModelFormat:
        """The format this message follows."""
        return self._format

    def set(self, fieldName: str, value: Any) -> Any:
        """Set a field (validated against its type); returns self for chaining."""
        field = self._format.field(fieldName) if isinstance(fieldName, str) else None
        if field is None:
            names = ", ".join(f.name for f in self._format.fields)
            raise ValueError(
                f"{fieldName!r} is not a field of {self._format.urn} (fields: {names})"
            )
        checked = validate_value(field, value)
        with self._lock:
            self._fields[field.name] = checked
        return self

    def setOnError(self, callback: ErrorHandler | None) -> None:
        """Call ``callback`` when this message fails to reach the server (None removes it)."""
        check_callback(callback, "onError")
        self._on_error = callback

    def _take_data(self) -> dict[str, Any]:
        with self._lock:
            missing = [
                f.name for f in self._format.fields if not f.optional and f.name not in self._fields
            ]
            if missing:
                raise ValueError(
                    f"{self._format.urn}: required field(s) not set: {', '.join(missing)}"
                )
            fields, self._fields = self._fields, {}
        types = {f.name: f.type for f in self._format.fields}
        return {name: encode_value(types[name], value) for name, value in fields.items()}

    def _failed(self, messages: Sequence[Message], exc: Exception | BaseException) -> None:
        for message in messages:
            data = message.payload.get("data") or {"format": self._format.urn}
            event = ErrorEvent(self._device, NamedValue.chain(dict(data)), str(exc))
            self._device._report_error(event, self._on_error)


class Alert(_FormatMessage):
    """An alert of an ALERT format; send it with :meth:`raise_`."""

    _KIND = FormatType.ALERT

    def __init__(self, device: VirtualDevice, formatUrn: str) -> None:
        super().__init__(device, formatUrn)
        self._severity = Severity.SIGNIFICANT

    def setSeverity(self, severity: Severity | str) -> Alert:
        """LOW, NORMAL, SIGNIFICANT (default) or CRITICAL."""
        try:
            self._severity = severity if isinstance(severity, Severity) else Severity(severity)
        except ValueError:
            allowed = ", ".join(s.value for s in Severity)
            raise ValueError(f"severity {severity!r} is not one of {allowed}") from None
        return self

    def raise_(self) -> None:
        """Send the alert now (event time = now); raises ValueError if a required field is unset."""
        data = self._take_data()
        message = alert_message(
            self._device.getEndpointId(),
            self._format.urn,
            data,
            description=self._format.description,
            severity=self._severity,
        )
        self._device._sink.offer([message], self._failed)


class Data(_FormatMessage):
    """Custom data of a DATA format; send it with :meth:`submit`."""

    _KIND = FormatType.DATA

    def submit(self) -> None:
        """Send the data now; raises ValueError if a required field is unset."""
        data = self._take_data()
        message = data_message(self._device.getEndpointId(), self._format.urn, data)
        self._device._sink.offer([message], self._failed)
