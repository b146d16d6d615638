"""One exception tree for iotcs-hw.

Every error the library raises on purpose derives from :class:`IotcsHwError`.  The leaves also
inherit the builtin they resemble, so code written against Oracle's documentation
(``except ValueError``) keeps working.  Each docstring says whether retrying can help.

The hardware side has its own root, :class:`drivers.errors.HardwareError`, because ``drivers``
never imports ``iotcs_hw``.
"""

from __future__ import annotations


class IotcsHwError(Exception):
    """Root of every error iotcs-hw raises on purpose."""


class ConfigError(IotcsHwError, ValueError):
    """A configuration, model file or device model is invalid. Not retryable: fix the input."""


class DeviceModelError(ConfigError):
    """A device-model JSON document is malformed. Not retryable."""


class StateException(IotcsHwError, ValueError):
    """An operation is not allowed in the object's current state (Oracle's StateException).

    It is also a :class:`ValueError` because the seed documents ``ValueError`` for some of the
    same conditions (for example changing a storage object's path while a sync is pending).
    Retryable once the state has changed.
    """


class DeviceClosed(IotcsHwError, RuntimeError):
    """The object was closed; calls after ``close()`` raise this. Not retryable."""


class TransportException(IotcsHwError, OSError):
    """Talking to the server failed (Oracle's TransportException, an IOException in Java).

    ``statusCode`` holds the HTTP status when the server answered, else ``None``.  Retryable
    for network errors and 5xx; not for 4xx.
    """

    def __init__(self, message: str, statusCode: int | None = None, url: str | None = None):
        super().__init__(message)
        self.statusCode = statusCode
        self.url = url

    def getStatusCode(self) -> int | None:
        """Return the HTTP status code, or None when no answer was received."""
        return self.statusCode


class SecurityException(IotcsHwError):
    """A secure connection or credential could not be established (Oracle's SecurityException).

    Bad signatures, refused tokens, TLS failures.  Never retried automatically.
    """


class TrustedAssetsError(SecurityException, ValueError):
    """A trusted-assets store is corrupt, has the wrong password or is unreadable. Not retryable."""

    def __init__(self, message: str, path: str | None = None):
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class ProtocolError(IotcsHwError):
    """A message or answer does not follow the IoTCS protocol."""


class MessageFormatError(ProtocolError, ValueError):
    """A message envelope or payload is malformed. Not retryable."""


class QueueFullError(IotcsHwError, OverflowError):
    """The outbox is full and the overflow policy refuses the message. Retryable later."""
