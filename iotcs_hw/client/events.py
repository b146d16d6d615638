"""Events and callbacks of virtual devices: NamedValue chains, ChangeEvent, ErrorEvent.

Callbacks may be instances of :class:`ChangeCallback`/:class:`ErrorCallback` (Oracle's style)
or plain callables taking the event; :func:`invoke` calls either and logs, never propagates, an
exception from user code that is only being *notified*.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from iotcs_hw.client.virtual_device import AbstractVirtualDevice

log = logging.getLogger(__name__)


class NamedValue:
    """A name/value pair, linked to the next one (the attributes of one event)."""

    def __init__(self, name: str, value: Any, next_value: NamedValue | None = None) -> None:
        self._name = name
        self._value = value
        self._next = next_value

    def getName(self) -> str:
        """Return the name of the value."""
        return self._name

    def getValue(self) -> Any:
        """Return the value."""
        return self._value

    def next(self) -> NamedValue | None:
        """Return the next NamedValue in the list, or None."""
        return self._next

    def __iter__(self) -> Iterator[NamedValue]:
        node: NamedValue | None = self
        while node is not None:
            yield node
            node = node.next()

    def as_dict(self) -> dict[str, Any]:
        """The whole chain as ``{name: value}``."""
        return {nv.getName(): nv.getValue() for nv in self}

    def __repr__(self) -> str:
        return f"NamedValue({self.as_dict()!r})"

    @classmethod
    def chain(cls, values: dict[str, Any]) -> NamedValue:
        """Build a chain from a non-empty mapping, keeping its order."""
        if not values:
            raise ValueError("a NamedValue chain needs at least one value")
        node: NamedValue | None = None
        for name, value in reversed(list(values.items())):
            node = cls(name, value, node)
        assert node is not None
        return node


class Event(abc.ABC):  # noqa: B024 - an ABC in Oracle's API; concrete here
    """The base class for an event: a virtual device and a NamedValue chain."""

    def __init__(self, virtualDevice: AbstractVirtualDevice, namedValue: NamedValue) -> None:
        self._virtual_device = virtualDevice
        self._named_value = namedValue

    def getNamedValue(self) -> NamedValue:
        """Return the NamedValue instance, never None."""
        return self._named_value

    def getVirtualDevice(self) -> AbstractVirtualDevice:
        """Return the VirtualDevice instance, never None."""
        return self._virtual_device

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._named_value.as_dict()!r}>"


class ChangeEvent(Event):
    """The server changed one or more attributes; the chain holds the new values."""


class ErrorEvent(Event):
    """Sending attribute values, an alert or data failed; the chain holds what was sent."""

    def __init__(
        self, virtualDevice: AbstractVirtualDevice, namedValue: NamedValue, message: str
    ) -> None:
        super().__init__(virtualDevice, namedValue)
        self._message = message

    def getMessage(self) -> str:
        """Return the error message."""
        return self._message


class ChangeCallback(abc.ABC):
    """Notified when the server changes an attribute value.

    ``onChange`` runs on the dispatcher's receive thread.  Raising ``ValueError`` rejects the
    change (the server gets 400), any other exception answers 500; either way the new value is
    not set.
    """

    @abc.abstractmethod
    def onChange(self, event: ChangeEvent) -> None:
        """Invoke onChange when an attribute value changes."""


class ErrorCallback(abc.ABC):
    """Notified when setting attribute values or raising an alert failed to reach the server.

    ``onError`` runs on the dispatcher's thread; an exception it raises is logged.
    """

    @abc.abstractmethod
    def onError(self, event: ErrorEvent) -> None:
        """Invoke onError when there is an error."""


ChangeHandler = ChangeCallback | Callable[[ChangeEvent], Any]
ErrorHandler = ErrorCallback | Callable[[ErrorEvent], Any]


def check_callback(callback: object, method: str) -> None:
    """Refuse a callback that has neither ``method`` nor is callable."""
    if callback is not None and not (hasattr(callback, method) or callable(callback)):
        raise ValueError(
            f"callback {callback!r} must have an {method}() method or be callable, or be None"
        )


def call_change(callback: ChangeHandler, event: ChangeEvent) -> None:
    """Call a change callback; its exception propagates (it decides the answer)."""
    if isinstance(callback, ChangeCallback) or hasattr(callback, "onChange"):
        callback.onChange(event)
    else:
        callback(event)


def notify_error(callback: ErrorHandler, event: ErrorEvent) -> None:
    """Call an error callback; an exception from it is logged and swallowed."""
    try:
        if isinstance(callback, ErrorCallback) or hasattr(callback, "onError"):
            callback.onError(event)
        else:
            callback(event)
    except Exception:
        log.exception("error callback %r raised while handling %r", callback, event)
