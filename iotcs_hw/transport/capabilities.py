"""The built-in capability handlers every device answers (protocol §6.6).

Registered on the :class:`~iotcs_hw.messaging.RequestDispatcher` for the device's own endpoint
under ``deviceModels/urn:oracle:iot:dcd:capability:``:

=========================================  =========  ==========================================
path                                        methods    answer
=========================================  =========  ==========================================
``message_dispatcher/counters``             GET        the delivery counters
``message_dispatcher/reset``                PUT        zero the counters
``message_dispatcher/pollingInterval``      GET, PUT   ``{"pollingInterval": ms}``
``diagnostics/info``                        GET        disk, address, version, start time
``diagnostics/testConnectivity``            GET, PUT   start/stop LOWEST-priority test DATA
=========================================  =========  ==========================================

Handlers run on the dispatcher's receive thread; the connectivity test sends from its own
named thread (``iotcs-test-connectivity``) and waits through the injected clock.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import iotcs_hw
from iotcs_hw.messaging.message import Message, Priority, data_message, now_ms
from iotcs_hw.messaging.requests import Request, RequestDispatcher, Response
from iotcs_hw.messaging.sink import DeliveryErrorHandler
from iotcs_hw.transport.clock import Clock, SystemClock
from iotcs_hw.transport.counters import CounterSnapshot

log = logging.getLogger(__name__)

CAPABILITY_PREFIX = "deviceModels/urn:oracle:iot:dcd:capability:"
COUNTERS_PATH = CAPABILITY_PREFIX + "message_dispatcher/counters"
RESET_PATH = CAPABILITY_PREFIX + "message_dispatcher/reset"
POLLING_INTERVAL_PATH = CAPABILITY_PREFIX + "message_dispatcher/pollingInterval"
INFO_PATH = CAPABILITY_PREFIX + "diagnostics/info"
TEST_CONNECTIVITY_PATH = CAPABILITY_PREFIX + "diagnostics/testConnectivity"
TEST_MESSAGE_FORMAT = "urn:oracle:iot:dcd:capability:diagnostics:test_message"
#: Largest test payload accepted (Oracle's clients cap string values at 64 KiB).
MAX_TEST_PAYLOAD = 65_536


class DispatcherControls(Protocol):
    """What the capabilities need from the dispatcher (a :class:`MessageDispatcher`)."""

    polling_interval_s: float

    def counters_snapshot(self) -> CounterSnapshot:
        """All counters at once."""
        ...

    def reset_counters(self) -> None:
        """Zero the counters."""
        ...

    def offer(
        self, messages: Sequence[Message], on_error: DeliveryErrorHandler | None = None
    ) -> None:
        """Queue messages."""
        ...


def _json(status: int, body: object) -> Response:
    return Response(status, json.dumps(body, separators=(",", ":")).encode("utf-8"))


def _body_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; raises ValueError naming what is wrong."""
    try:
        obj = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"body of {request.method} {request.url} is not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise ValueError(f"body of {request.method} {request.url} must be a JSON object")
    return obj


def _int_field(obj: dict[str, Any], name: str, low: int, high: int | None = None) -> int:
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"field {name!r}: {value!r} is not an integer")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in {low}..{high}"
        raise ValueError(f"field {name!r}: {value} is not {bound}")
    return int(value)


def _methods(**handlers: Callable[[Request], Response]) -> Callable[[Request], Response]:
    """Route by method; anything else answers 405."""

    def handle(request: Request) -> Response:
        handler = handlers.get(request.method.lower())
        if handler is None:
            allowed = ", ".join(m.upper() for m in handlers)
            return Response.error(405, f"{request.method} not allowed; use {allowed}")
        try:
            return handler(request)
        except ValueError as exc:
            return Response.error(400, str(exc))

    return handle


def primary_ip_address() -> str:
    """The address of the interface holding the default route, or 127.0.0.1 without one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routing lookup only, nothing is sent
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def primary_mac_address(net_dir: Path = Path("/sys/class/net")) -> str:
    """The MAC of the first non-loopback interface, ``00:00:00:00:00:00`` if none is found."""
    try:
        names = sorted(p.name for p in net_dir.iterdir())
    except OSError:
        names = []
    for name in names:
        if name == "lo":
            continue
        try:
            mac = (net_dir / name / "address").read_text().strip()
        except OSError:
            continue
        if mac and mac != "00:00:00:00:00:00":
            return mac
    return "00:00:00:00:00:00"


class ConnectivityTest:
    """Sends ``count`` test DATA messages of ``size`` stars every ``interval_ms``."""

    def __init__(self, endpoint_id: str, sink: DispatcherControls, clock: Clock) -> None:
        self.endpoint_id = endpoint_id
        self._sink = sink
        self._clock = clock
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stop = False
        self.active = False
        self.count = 0
        self.current_count = 0
        self.interval_ms = 0
        self.size = 0

    def status(self) -> dict[str, Any]:
        """The GET body: ``{active, count, currentCount, interval, size}``."""
        with self._cond:
            return {
                "active": self.active,
                "count": self.count,
                "currentCount": self.current_count,
                "interval": self.interval_ms,
                "size": self.size,
            }

    def start(self, count: int, interval_ms: int, size: int) -> bool:
        """Start a run; False if one is already active (the caller answers 409)."""
        with self._cond:
            if self.active:
                return False
            self.active, self._stop = True, False
            self.count, self.interval_ms, self.size, self.current_count = (
                count,
                interval_ms,
                size,
                0,
            )
            self._thread = threading.Thread(
                target=self._run, name="iotcs-test-connectivity", daemon=True
            )
            self._thread.start()
            return True

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop a run (no-op when idle) and join its thread within ``timeout_s``."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)
            if thread.is_alive():
                log.error("iotcs-test-connectivity did not stop within %.1f s", timeout_s)

    def wait_for_done(self, timeout: float) -> bool:
        """Wait (real time) until the run ends; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self.active, timeout=timeout)

    def _run(self) -> None:
        try:
            for n in range(1, self.count + 1):
                with self._cond:
                    if self._stop:
                        return
                message = data_message(
                    self.endpoint_id,
                    TEST_MESSAGE_FORMAT,
                    {"count": n, "payload": "*" * self.size},
                    priority=Priority.LOWEST,
                )
                try:
                    self._sink.offer([message])
                except Exception as exc:
                    log.error("connectivity test stopped: cannot queue message %d: %s", n, exc)
                    return
                with self._cond:
                    self.current_count = n
                    if n == self.count:
                        return
                    deadline = self._clock.monotonic() + self.interval_ms / 1000.0
                    while not self._stop and self._clock.monotonic() < deadline:
                        self._clock.wait_until(self._cond, deadline)
        finally:
            with self._cond:
                self.active = False
                self._cond.notify_all()


class Capabilities:
    """The §6.6 handlers of one endpoint; :meth:`close` stops a running connectivity test."""

    def __init__(
        self,
        endpoint_id: str,
        dispatcher: DispatcherControls,
        *,
        state_dir: str | Path = ".",
        clock: Clock | None = None,
        start_time_ms: int | None = None,
    ) -> None:
        self.endpoint_id = endpoint_id
        self.dispatcher = dispatcher
        self.state_dir = Path(state_dir)
        self.start_time_ms = now_ms() if start_time_ms is None else start_time_ms
        self.connectivity = ConnectivityTest(
            endpoint_id, dispatcher, clock if clock is not None else SystemClock()
        )

    def register(self, requests: RequestDispatcher) -> None:
        """Register every handler for this endpoint on ``requests``."""
        table: dict[str, Callable[[Request], Response]] = {
            COUNTERS_PATH: _methods(get=self._counters),
            RESET_PATH: _methods(put=self._reset),
            POLLING_INTERVAL_PATH: _methods(get=self._get_interval, put=self._put_interval),
            INFO_PATH: _methods(get=self._info),
            TEST_CONNECTIVITY_PATH: _methods(get=self._get_test, put=self._put_test),
        }
        for path, handler in table.items():
            requests.register(self.endpoint_id, path, handler)

    def close(self) -> None:
        """Stop the connectivity test if one runs. Idempotent."""
        self.connectivity.stop()

    def _counters(self, request: Request) -> Response:
        return _json(200, self.dispatcher.counters_snapshot().as_capability())

    def _reset(self, request: Request) -> Response:
        self.dispatcher.reset_counters()
        return Response.ok()

    def _get_interval(self, request: Request) -> Response:
        return _json(200, {"pollingInterval": round(self.dispatcher.polling_interval_s * 1000)})

    def _put_interval(self, request: Request) -> Response:
        value = _int_field(_body_object(request), "pollingInterval", 1)
        self.dispatcher.polling_interval_s = value / 1000.0
        return _json(200, {"pollingInterval": value})

    def _info(self, request: Request) -> Response:
        try:
            usage = shutil.disk_usage(self.state_dir)
            free, total = usage.free, usage.total
        except OSError:
            free = total = 0
        return _json(
            200,
            {
                "freeDiskSpace": free,
                "totalDiskSpace": total,
                "ipAddress": primary_ip_address(),
                "macAddress": primary_mac_address(),
                "version": f"iotcs-hw {iotcs_hw.__version__}",
                "startTime": self.start_time_ms,
            },
        )

    def _get_test(self, request: Request) -> Response:
        return _json(200, self.connectivity.status())

    def _put_test(self, request: Request) -> Response:
        body = _body_object(request)
        active = body.get("active")
        if not isinstance(active, bool):
            raise ValueError(f"field 'active': {active!r} is not true or false")
        if not active:
            self.connectivity.stop()
            return _json(200, self.connectivity.status())
        count = _int_field(body, "count", 1)
        interval = _int_field(body, "interval", 0)
        size = _int_field(body, "size", 0, MAX_TEST_PAYLOAD)
        if not self.connectivity.start(count, interval, size):
            return Response.error(409, "a connectivity test is already running")
        return _json(200, self.connectivity.status())
