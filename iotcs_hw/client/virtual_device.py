"""Virtual devices: the application's view of one endpoint implementing one device model.

What a virtual device *decides* lives here: validation against the model, update
transactions, which callbacks a server request reaches and what it answers.  How its messages
*travel* is the :class:`~iotcs_hw.messaging.MessageSink` it was given (the transport's durable
dispatcher, or :class:`~iotcs_hw.messaging.RecordingSink`).

Writability: the device model's ``writable`` flag limits what the *server* may change.  The
device itself may set any attribute of its model, as Oracle's device libraries behave; the seed
document's wording ("raises ValueError ... if attributeName is not writable") describes the
enterprise-side virtual device and is deliberately not followed here.

Callbacks decide the answer to a server write: returning accepts it (200), raising
``ValueError`` rejects it (400), any other exception answers 500, and an exception with an
integer ``status`` attribute (4xx/5xx) answers that status (409 for a safety rule, say).

Threads: the update transaction belongs to the device, not to a thread.  Change callbacks and
action callables run on the dispatcher's receive thread; error callbacks on its send thread.
"""

from __future__ import annotations

import abc
import json
import logging
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from iotcs_hw.client.alert import Alert, Data
from iotcs_hw.client.device_model import (
    DataType,
    DeviceModel,
    DeviceModelAction,
    DeviceModelAttribute,
)
from iotcs_hw.client.events import (
    ChangeCallback,
    ChangeEvent,
    ChangeHandler,
    ErrorCallback,
    ErrorEvent,
    ErrorHandler,
    Event,
    NamedValue,
    call_change,
    check_callback,
    notify_error,
)
from iotcs_hw.client.external import StorageObject, SyncStatus
from iotcs_hw.client.values import encode_value, validate_value
from iotcs_hw.errors import StateException
from iotcs_hw.messaging.message import Message, MessageType, data_message
from iotcs_hw.messaging.requests import Request, RequestDispatcher, Response

log = logging.getLogger(__name__)


class ActionCallable(Protocol):
    """Oracle's ``Callable``: ``call(virtualDevice, data)`` runs an action."""

    def call(self, virtualDevice: VirtualDevice, data: Any) -> None: ...


class AbstractVirtualDevice(abc.ABC):
    """A representation of a device model: ``get``/``set`` attributes, callbacks, transactions."""

    ChangeCallback = ChangeCallback
    ChangeEvent = ChangeEvent
    ErrorCallback = ErrorCallback
    ErrorEvent = ErrorEvent
    Event = Event
    NamedValue = NamedValue

    @abc.abstractmethod
    def getDeviceModel(self) -> DeviceModel:
        """Return the DeviceModel instance for this device object."""

    @abc.abstractmethod
    def getEndpointId(self) -> str:
        """Return the endpoint id of the device."""

    @abc.abstractmethod
    def get(self, attributeName: str) -> Any:
        """Return the value of ``attributeName``."""

    @abc.abstractmethod
    def getLastKnown(self, attributeName: str) -> Any:
        """Return the last known value of ``attributeName``."""

    @abc.abstractmethod
    def set(self, attributeName: str, value: Any) -> AbstractVirtualDevice:
        """Set the value of ``attributeName`` to ``value``."""

    @abc.abstractmethod
    def update(self) -> AbstractVirtualDevice:
        """Set a mark for beginning an update transaction."""

    @abc.abstractmethod
    def finish(self) -> None:
        """Send the values in an update transaction to the server."""

    @abc.abstractmethod
    def setOnChange(self, callback: ChangeHandler | None, attributeName: str | None = None) -> None:
        """Set (or with None remove) a ChangeCallback for one attribute or for all."""

    @abc.abstractmethod
    def setOnError(self, callback: ErrorHandler | None, attributeName: str | None = None) -> None:
        """Set (or with None remove) an ErrorCallback for one attribute or for all."""


class VirtualDevice(AbstractVirtualDevice):
    """The device-side virtual device.

    ``sink`` receives the DATA/ALERT messages; ``requests`` (optional) is where this device
    registers for server requests to ``deviceModels/<urn>/...`` of its endpoint.
    """

    def __init__(
        self,
        endpointId: str,
        deviceModel: DeviceModel,
        *,
        sink: Any,
        requests: RequestDispatcher | None = None,
    ) -> None:
        if not isinstance(endpointId, str) or not endpointId:
            raise ValueError(f"endpointId must be a non-empty string, got {endpointId!r}")
        if not isinstance(deviceModel, DeviceModel):
            raise ValueError(f"deviceModel must be a DeviceModel, got {deviceModel!r}")
        self._endpoint_id = endpointId
        self._model = deviceModel
        self._sink = sink
        self._lock = threading.RLock()
        self._attributes = deviceModel.getDeviceModelAttributes()
        self._values: dict[str, Any] = {}
        for name, attr in self._attributes.items():
            default = attr.getDefaultValue()
            self._values[name] = (
                None if default is None else validate_value(attr, default, from_wire=True)
            )
        self._transaction: dict[str, Any] | None = None
        self._on_change: dict[str | None, ChangeHandler] = {}
        self._on_error: dict[str | None, ErrorHandler] = {}
        self._callables: dict[str, Any] = {}
        self._requests = requests
        if requests is not None:
            requests.register(
                endpointId, f"deviceModels/{deviceModel.getURN()}", self.handle_request
            )

    # --- identity -----------------------------------------------------------------------------
    def getDeviceModel(self) -> DeviceModel:
        """Return the DeviceModel instance for this device object."""
        return self._model

    def getEndpointId(self) -> str:
        """Return the endpoint id of the device."""
        return self._endpoint_id

    def __repr__(self) -> str:
        return f"<VirtualDevice {self._endpoint_id} {self._model.getURN()} {self._values!r}>"

    # --- reading ------------------------------------------------------------------------------
    def _attribute(self, attributeName: object) -> DeviceModelAttribute:
        if attributeName is None:
            raise ValueError("attributeName is None; name an attribute of the device model")
        if not isinstance(attributeName, str):
            raise ValueError(f"attributeName must be a string, got {attributeName!r}")
        attr = self._attributes.get(attributeName)
        if attr is None:
            known = ", ".join(sorted(self._attributes)) or "none"
            raise ValueError(
                f"{attributeName!r} is not an attribute of {self._model.getURN()} "
                f"(attributes: {known})"
            )
        return attr

    def get(self, attributeName: str) -> Any:
        """The value held by the virtual device; no call reaches the physical device.

        Raises ValueError if ``attributeName`` is None or not in the model.
        """
        self._attribute(attributeName)
        with self._lock:
            return self._values[attributeName]

    def getLastKnown(self, attributeName: str) -> Any:
        """The last known value, which on the device side is always the current value."""
        return self.get(attributeName)

    # --- writing ------------------------------------------------------------------------------
    def set(self, attributeName: str, value: Any) -> VirtualDevice:
        """Validate ``value`` against the model and send it (or stage it in a transaction).

        Raises ValueError if ``attributeName`` is None or not in the model, or ``value`` breaks
        the model's type or range.  A failed ``set`` changes nothing, inside a transaction too.
        """
        attr = self._attribute(attributeName)
        checked = validate_value(attr, value)
        with self._lock:
            if self._transaction is not None:
                self._transaction[attributeName] = checked
                return self
            self._send_values({attributeName: checked})
        return self

    def offer(self, attributeName: str, value: Any) -> VirtualDevice:
        """Offer a value; without device policies this is :meth:`set` (as in Oracle's Java)."""
        return self.set(attributeName, value)

    def update(self) -> VirtualDevice:
        """Open an update transaction: later ``set`` calls accumulate until :meth:`finish`.

        Calling it while a transaction is open keeps that transaction.
        """
        with self._lock:
            if self._transaction is None:
                self._transaction = {}
        return self

    def finish(self) -> None:
        """Send everything set since :meth:`update` as one DATA message and close the transaction.

        Raises :class:`StateException` (a ValueError) when no transaction is open.  An empty
        transaction sends nothing.
        """
        with self._lock:
            if self._transaction is None:
                raise StateException("finish() called without update(): no transaction is open")
            staged, self._transaction = self._transaction, None
            if staged:
                self._send_values(staged)

    def in_transaction(self) -> bool:
        """True between :meth:`update` and :meth:`finish`."""
        with self._lock:
            return self._transaction is not None

    def _send_values(self, values: dict[str, Any]) -> None:
        """Build the DATA message, queue it (after pending uploads), then commit the values.

        Called with the lock held.  If the sink refuses the message the values stay as they were.
        """
        data = {
            name: encode_value(self._attributes[name].type, value) for name, value in values.items()
        }
        message = data_message(self._endpoint_id, self._model.attributes_format, data)
        uploads = [
            v
            for v in values.values()
            if isinstance(v, StorageObject) and v.getSyncStatus() is not SyncStatus.IN_SYNC
        ]
        if uploads:
            self._send_after_uploads(message, values, uploads)
        else:
            self._sink.offer([message], self._delivery_failed)
        self._values.update(values)

    def _send_after_uploads(
        self, message: Message, values: dict[str, Any], uploads: list[StorageObject]
    ) -> None:
        """Protocol §5.4: a message that references storage objects waits for their upload."""
        names = {id(v): n for n, v in values.items()}
        remaining = [len(uploads)]
        failures: list[tuple[str, BaseException]] = []
        gate = threading.Lock()

        def synced(obj: StorageObject, error: BaseException | None) -> None:
            with gate:
                if error is not None:
                    failures.append((names.get(id(obj), obj.getName()), error))
                remaining[0] -= 1
                done = remaining[0] == 0
            if not done:
                return
            if failures:
                self._delivery_failed([message], failures[0][1])
            else:
                try:
                    self._sink.offer([message], self._delivery_failed)
                except Exception as exc:
                    self._delivery_failed([message], exc)

        for obj in uploads:
            if obj.getSyncStatus() is SyncStatus.NOT_IN_SYNC:
                obj.sync()
            obj._when_synced(synced)

    # --- callbacks ----------------------------------------------------------------------------
    def setOnChange(self, callback: ChangeHandler | None, attributeName: str | None = None) -> None:
        """Call ``callback`` when the server changes ``attributeName`` (None: any attribute).

        ``callback`` None removes it.  Raises ValueError for a name not in the model.
        """
        if attributeName is not None:
            self._attribute(attributeName)
        check_callback(callback, "onChange")
        with self._lock:
            if callback is None:
                self._on_change.pop(attributeName, None)
            else:
                self._on_change[attributeName] = callback

    def setOnError(self, callback: ErrorHandler | None, attributeName: str | None = None) -> None:
        """Call ``callback`` when sending ``attributeName`` fails (None: any attribute, alerts).

        ``callback`` None removes it.  Raises ValueError for a name not in the model.
        """
        if attributeName is not None:
            self._attribute(attributeName)
        check_callback(callback, "onError")
        with self._lock:
            if callback is None:
                self._on_error.pop(attributeName, None)
            else:
                self._on_error[attributeName] = callback

    def setCallable(self, actionName: str, callable_: Any) -> None:
        """Run ``callable_`` (``call(vd, data)`` or a function ``(vd, data)``) for an action.

        None removes it.  Raises ValueError when the model has no such action.
        """
        if actionName is None or self._model.action(actionName) is None:
            known = ", ".join(sorted(self._model.getDeviceModelActions())) or "none"
            raise ValueError(
                f"{actionName!r} is not an action of {self._model.getURN()} (actions: {known})"
            )
        action = self._model.action(actionName)
        assert action is not None
        with self._lock:
            if callable_ is None:
                self._callables.pop(action.name, None)
            else:
                if not (hasattr(callable_, "call") or callable(callable_)):
                    raise ValueError(f"{callable_!r} has no call() method and is not callable")
                self._callables[action.name] = callable_

    def _delivery_failed(self, messages: Sequence[Message], exc: Exception | BaseException) -> None:
        """Turn a failed delivery into ErrorEvents for the attribute and device callbacks."""
        for message in messages:
            data = message.payload.get("data")
            if not isinstance(data, dict) or not data:
                continue
            event = ErrorEvent(self, NamedValue.chain(dict(data)), str(exc))
            with self._lock:
                handlers: list[ErrorHandler] = [
                    self._on_error[name] for name in data if name in self._on_error
                ]
                device_wide = self._on_error.get(None)
            if message.type is MessageType.DATA and message.payload.get("format") == (
                self._model.attributes_format
            ):
                for handler in handlers:
                    notify_error(handler, event)
            if device_wide is not None:
                notify_error(device_wide, event)

    def _report_error(self, event: ErrorEvent, own: ErrorHandler | None) -> None:
        with self._lock:
            device_wide = self._on_error.get(None)
        for handler in (own, device_wide):
            if handler is not None:
                notify_error(handler, event)

    # --- alerts and custom data ---------------------------------------------------------------
    def createAlert(self, formatUrn: str) -> Alert:
        """An :class:`~iotcs_hw.client.alert.Alert` for an ALERT format of the model."""
        return Alert(self, formatUrn)

    def createData(self, formatUrn: str) -> Data:
        """A :class:`~iotcs_hw.client.alert.Data` for a DATA format of the model."""
        return Data(self, formatUrn)

    # --- server requests ----------------------------------------------------------------------
    def handle_request(self, request: Request) -> Response:
        """Answer a server request for ``deviceModels/<urn>/attributes|actions...`` (§3.4)."""
        prefix = f"deviceModels/{self._model.getURN()}"
        rest = request.url[len(prefix) :].strip("/")
        kind, _, name = rest.partition("/")
        if kind == "attributes":
            if name:
                if request.method != "PUT":
                    return Response.error(405, f"{request.method} not allowed on an attribute")
                return self._write_one(name, request.body)
            if request.method not in ("PATCH", "POST", "PUT"):
                return Response.error(405, f"{request.method} not allowed on attributes")
            return self._write_many(request.body)
        if kind == "actions" and name:
            if request.method not in ("POST", "PUT"):
                return Response.error(405, f"{request.method} not allowed on an action")
            return self._invoke_action(name, request.body)
        return Response.error(404, "Not Found")

    def _write_one(self, name: str, body: bytes) -> Response:
        attr = self._model.attribute(name)
        if attr is None:
            return Response.error(404, f"no attribute {name!r} in {self._model.getURN()}")
        payload = _json_object(body)
        if payload is None or "value" not in payload:
            return Response.error(400, 'body must be a JSON object {"value": ...}')
        return self._apply_writes({attr.name: payload["value"]})

    def _write_many(self, body: bytes) -> Response:
        payload = _json_object(body)
        if not payload:
            return Response.error(400, "body must be a non-empty JSON object of attribute values")
        writes: dict[str, Any] = {}
        for key, value in payload.items():
            attr = self._model.attribute(key)
            if attr is None:
                return Response.error(400, f"no attribute {key!r} in {self._model.getURN()}")
            writes[attr.name] = value
        return self._apply_writes(writes)

    def _apply_writes(self, writes: dict[str, Any]) -> Response:
        """Validate every value, run the callbacks, then commit and echo; all or nothing."""
        checked: dict[str, Any] = {}
        for name, raw in writes.items():
            attr = self._attributes[name]
            if not attr.writable:
                return Response.error(400, f"attribute {name!r} is not writable")
            try:
                checked[name] = validate_value(attr, raw, from_wire=True)
            except ValueError as exc:
                return Response.error(400, str(exc))
        with self._lock:
            per_attribute = [(n, self._on_change.get(n)) for n in checked]
            device_wide = self._on_change.get(None)
        try:
            for name, handler in per_attribute:
                if handler is not None:
                    call_change(handler, ChangeEvent(self, NamedValue(name, checked[name])))
            if device_wide is not None:
                call_change(device_wide, ChangeEvent(self, NamedValue.chain(checked)))
        except ValueError as exc:
            return Response.error(_status_of(exc, 400), str(exc))
        except Exception as exc:
            log.exception("change callback of %s failed", self._endpoint_id)
            return Response.error(_status_of(exc, 500), f"{type(exc).__name__}: {exc}")
        with self._lock:
            try:
                self._send_values(checked)
            except Exception as exc:  # the echo could not be queued; the value did change
                log.warning("%s: DATA echo of %s not queued: %s", self._endpoint_id, checked, exc)
                self._values.update(checked)
        return Response.ok()

    def _invoke_action(self, name: str, body: bytes) -> Response:
        action = self._model.action(name)
        if action is None:
            return Response.error(404, f"no action {name!r} in {self._model.getURN()}")
        with self._lock:
            target = self._callables.get(action.name)
        if target is None:
            return Response.error(404, f"no callable is registered for action {action.name!r}")
        payload = _json_object(body) if body.strip() else {}
        if payload is None:
            return Response.error(400, "action body must be a JSON object")
        try:
            data = _action_argument(action, payload)
        except ValueError as exc:
            return Response.error(400, str(exc))
        try:
            if hasattr(target, "call"):
                target.call(self, data)
            else:
                target(self, data)
        except ValueError as exc:
            return Response.error(_status_of(exc, 400), str(exc))
        except Exception as exc:
            log.exception("action %s of %s failed", action.name, self._endpoint_id)
            return Response.error(_status_of(exc, 500), f"{type(exc).__name__}: {exc}")
        return Response.ok()


def _status_of(exc: BaseException, default: int) -> int:
    """The RESPONSE status for a callback's exception.

    A callback may choose it by raising an exception with an integer ``status`` attribute
    (4xx or 5xx), e.g. 409 when a safety rule refuses a valid value; otherwise ``ValueError``
    answers 400 and anything else 500.
    """
    status = getattr(exc, "status", None)
    if isinstance(status, int) and not isinstance(status, bool) and 400 <= status <= 599:
        return status
    return default


class _ArgSpec:
    def __init__(self, action: DeviceModelAction) -> None:
        assert action.arg_type is not None
        self.name = action.name
        self.type: DataType = action.arg_type
        self.range = action.range


def _action_argument(action: DeviceModelAction, payload: dict[str, Any]) -> Any:
    if action.arg_type is None:
        return None
    if "value" not in payload:
        raise ValueError(f"action {action.name!r} needs an argument {{'value': ...}}")
    return validate_value(_ArgSpec(action), payload["value"], from_wire=True)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body.decode("utf-8")) if body.strip() else None
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None
