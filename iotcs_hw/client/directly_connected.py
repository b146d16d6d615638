"""``DirectlyConnectedDevice``: a device that talks to the cloud itself (Oracle's name and API).

It owns, in this order, the trusted-assets store, the HTTPS session, the message transport,
the request dispatcher and, once activated, the durable message dispatcher (outbox, sender and
long-poll receiver) with the built-in capability handlers.  ``close()`` releases them in the
opposite order; a constructor that fails half-way releases what it already built.

An activated device starts its dispatcher at construction, so messages a previous run left in
the outbox go out before anything new.

>>> with DirectlyConnectedDevice("/etc/iotcs/device.bin") as dcd:  # doctest: +SKIP
...     if not dcd.isActivated():
...         dcd.activate("urn:com:example:thermometer")
...     model = dcd.getDeviceModel("urn:com:example:thermometer")
...     vd = dcd.createVirtualDevice(dcd.getEndpointId(), model)
...     vd.set("temperature", 21.5)
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from iotcs_hw.client.client import Client
from iotcs_hw.client.external import StorageBackend
from iotcs_hw.errors import DeviceClosed, StateException
from iotcs_hw.messaging.requests import RequestDispatcher
from iotcs_hw.messaging.sink import MessageSink
from iotcs_hw.protocol.activation import DIAGNOSTICS_URN, MESSAGE_DISPATCHER_URN
from iotcs_hw.transport.activation_client import activate_directly, fetch_device_model
from iotcs_hw.transport.capabilities import Capabilities
from iotcs_hw.transport.clock import Clock, SystemClock
from iotcs_hw.transport.dispatcher import MessageDispatcher
from iotcs_hw.transport.http import DEFAULT_TIMEOUT_S, HttpSession
from iotcs_hw.transport.http_messages import DEFAULT_LONG_POLL_OFFSET_S, HttpMessageTransport
from iotcs_hw.transport.outbox import Outbox
from iotcs_hw.transport.storage import SwiftStorageBackend
from iotcs_hw.transport.store_password import resolve_store_password
from iotcs_hw.transport.trusted_assets import TrustedAssetsManager

log = logging.getLogger(__name__)

#: systemd sets this for units with ``StateDirectory=``.
STATE_DIRECTORY_VAR = "STATE_DIRECTORY"


def default_state_dir(store_path: Path, environ: os._Environ[str] | None = None) -> Path:
    """Where the outbox lives: ``$STATE_DIRECTORY/<store>.state`` or beside the store."""
    env = os.environ if environ is None else environ
    base = env.get(STATE_DIRECTORY_VAR)
    # systemd may list several directories separated by ':'; the first is ours.
    root = Path(base.split(":")[0]) if base else store_path.parent
    return root / f"{store_path.name}.state"


class DirectlyConnectedDevice(Client):
    """A directly connected device (Oracle's ``DirectlyConnectedDevice``).

    Args:
        storePath: the trusted-assets store (the console's provisioning file).
        password: the store password; None takes it from the systemd credential
            ``iotcs-store-password`` or ``$IOTCS_HW_STORE_PASSWORD`` (never a command-line flag).
        allowDraftDeviceModels: return draft models from :meth:`getDeviceModel`.
        state_dir: folder of the durable outbox (default :func:`default_state_dir`).
        timeout_s: HTTP timeout of ordinary calls (default 15 s).
        long_poll_s: how long the server may hold a receive poll; None polls instead.
        long_poll_offset_s: extra client read time beyond the hold.
        clock: time source of the dispatcher and the session (default the system clock).
        flush_timeout_s: how long :meth:`close` lets the dispatcher deliver what is queued;
            what is still queued then stays in the outbox for the next start.
        dispatcher_options: further keyword arguments for :class:`MessageDispatcher`.
        outbox_options: further keyword arguments for :class:`Outbox`.

    Raises:
        TrustedAssetsError: the store is missing, corrupt or the password is wrong.
        ConfigError: no password was given and none was found.
    """

    #: Capability URNs announced at activation besides ``direct_activation``.
    CAPABILITY_URNS: tuple[str, ...] = (DIAGNOSTICS_URN, MESSAGE_DISPATCHER_URN)

    def __init__(
        self,
        storePath: str | os.PathLike[str],
        password: str | None = None,
        *,
        allowDraftDeviceModels: bool = False,
        state_dir: str | os.PathLike[str] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        long_poll_s: float | None = 20.0,
        long_poll_offset_s: float = DEFAULT_LONG_POLL_OFFSET_S,
        clock: Clock | None = None,
        flush_timeout_s: float = 5.0,
        dispatcher_options: dict[str, Any] | None = None,
        outbox_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(allowDraftDeviceModels=allowDraftDeviceModels)
        store = Path(storePath)
        secret = resolve_store_password(password)
        log.info("trusted-assets store %s: password from %s", store, secret.origin)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._state_dir = Path(state_dir) if state_dir is not None else default_state_dir(store)
        self._long_poll_s = long_poll_s
        self._flush_timeout_s = flush_timeout_s
        self._dispatcher_options = dict(dispatcher_options or {})
        self._outbox_options = dict(outbox_options or {})
        self._lifecycle = threading.RLock()
        self._dispatcher: MessageDispatcher | None = None
        self._capabilities: Capabilities | None = None
        self._requests = RequestDispatcher()
        self._assets = TrustedAssetsManager(store, secret.value)
        try:
            self._session = HttpSession(self._assets, timeout_s=timeout_s, clock=self._clock)
            self._transport = HttpMessageTransport(
                self._session, long_poll_offset_s=long_poll_offset_s
            )
            self._storage = SwiftStorageBackend(self._session)
            if self._assets.is_activated():
                self._start_dispatcher()
        except BaseException:
            self._release()
            raise

    # ------------------------------------------------------------------------- activation

    def activate(self, *deviceModelUrns: str) -> None:
        """Activate this device implementing ``deviceModelUrns`` (blocking).

        Raises :class:`StateException` (a ValueError) if already activated,
        TransportException / SecurityException when the server refuses or cannot be reached,
        TrustedAssetsError when the store cannot be written.
        """
        self._check_open()
        for urn in deviceModelUrns:
            if not isinstance(urn, str) or not urn:
                raise ValueError(f"device model URNs must be non-empty strings, got {urn!r}")
        with self._lifecycle:
            if self.isActivated():
                raise StateException(f"{self._assets.path}: device is already activated")
            activate_directly(self._session, self._activation_urns(deviceModelUrns))
            self._start_dispatcher()

    def _activation_urns(self, urns: tuple[str, ...]) -> list[str]:
        return list(dict.fromkeys((*urns, *self.CAPABILITY_URNS)))

    def isActivated(self) -> bool:
        """True once the store holds an endpoint id."""
        return self._assets.is_activated()

    def getEndpointId(self) -> str:
        """The endpoint id; raises :class:`StateException` before activation."""
        return self._assets.endpoint_id()

    # ------------------------------------------------------------------------- Client seams

    @property
    def message_sink(self) -> MessageSink:
        """The durable dispatcher; raises :class:`StateException` before activation."""
        self._check_open()
        dispatcher = self._dispatcher
        if dispatcher is None:
            raise StateException(f"{self._assets.path}: activate the device before sending")
        return dispatcher

    @property
    def request_dispatcher(self) -> RequestDispatcher:
        """Where virtual devices and capabilities register for server requests."""
        return self._requests

    def _fetch_device_model(self, urn: str) -> dict[str, Any] | None:
        return fetch_device_model(self._session, urn)

    def _storage_backend(self) -> StorageBackend:
        return self._storage

    # ------------------------------------------------------------------------- internals

    @property
    def session(self) -> HttpSession:
        """The HTTPS session (for tests and diagnostics)."""
        return self._session

    @property
    def dispatcher(self) -> MessageDispatcher | None:
        """The message dispatcher, None before activation."""
        return self._dispatcher

    def _start_dispatcher(self) -> None:
        with self._lifecycle:
            if self._dispatcher is not None:
                return
            outbox = Outbox.in_state_dir(self._prepare_state_dir(), **self._outbox_options)
            try:
                dispatcher = MessageDispatcher(
                    self._transport,
                    outbox,
                    requests=self._requests,
                    clock=self._clock,
                    long_poll_s=self._long_poll_s,
                    **self._dispatcher_options,
                )
            except BaseException:
                outbox.close()
                raise
            capabilities = Capabilities(
                self.getEndpointId(), dispatcher, state_dir=self._state_dir, clock=self._clock
            )
            capabilities.register(self._requests)
            self._capabilities = capabilities
            self._dispatcher = dispatcher.start()

    def _prepare_state_dir(self) -> Path:
        self._state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self._state_dir

    def close(self) -> None:
        """Flush briefly, stop the dispatcher, close connections and the store. Idempotent."""
        with self._lifecycle:
            if self.isClosed():
                return
            super().close()
            self._release()

    def _release(self) -> None:
        """Close children in reverse order of creation; each step runs even if one fails."""
        steps = []
        if getattr(self, "_capabilities", None) is not None:
            steps.append(self._capabilities.close)  # type: ignore[union-attr]
        dispatcher = getattr(self, "_dispatcher", None)
        if dispatcher is not None:
            steps.append(lambda: dispatcher.close(self._flush_timeout_s))
        for name in ("_transport", "_session", "_assets"):
            child = getattr(self, name, None)
            if child is not None:
                steps.append(child.close)
        first_error: BaseException | None = None
        for step in steps:
            try:
                step()
            except Exception as exc:
                log.exception("closing %r: %s failed", self, getattr(step, "__qualname__", step))
                first_error = first_error or exc
        if first_error is not None:
            raise first_error

    def _check_open(self) -> None:
        if self.isClosed():
            raise DeviceClosed(f"{type(self).__name__} is closed")

    def __repr__(self) -> str:
        ident, activated = self._assets.identity()
        state = "closed" if self.isClosed() else ("activated" if activated else "not activated")
        return f"<{type(self).__name__} {ident!r} {state} store={str(self._assets.path)!r}>"
