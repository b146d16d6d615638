"""systemd notifications (``sd_notify``) over a plain AF_UNIX datagram: no extra dependency.

systemd passes ``$NOTIFY_SOCKET`` to a ``Type=notify`` service; the runtime sends ``READY=1``
once buses and the model are up, ``WATCHDOG=1`` from the sampling loop (so a hung loop gets the
service restarted), ``STATUS=...`` for ``systemctl status`` and ``STOPPING=1`` on shutdown.
``$WATCHDOG_USEC`` (honoured only when ``$WATCHDOG_PID`` is unset or ours) gives the deadline;
pinging at half of it is what ``sd_watchdog_enabled(3)`` recommends.  Outside systemd every
call is a cheap no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class SystemdNotifier:
    """Sends notification datagrams to ``$NOTIFY_SOCKET``. Thread-safe; never raises.

    >>> notifier = SystemdNotifier.from_environment({})
    >>> notifier.enabled, notifier.notify("READY=1")
    (False, False)
    """

    def __init__(self, address: str | None, *, watchdog_usec: int | None = None) -> None:
        self.address = address
        self.watchdog_usec = watchdog_usec
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self.sent: list[str] = []
        self._last_error: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SystemdNotifier:
        """Read ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID``."""
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        usec: int | None = None
        raw = env.get("WATCHDOG_USEC")
        pid = env.get("WATCHDOG_PID")
        if raw and (not pid or pid == str(os.getpid())):
            try:
                usec = int(raw)
            except ValueError:
                log.warning("ignoring WATCHDOG_USEC=%r: not an integer", raw)
            else:
                if usec <= 0:
                    usec = None
        return cls(address, watchdog_usec=usec)

    @property
    def enabled(self) -> bool:
        """True when started by systemd with a notify socket."""
        return self.address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """How often to send ``WATCHDOG=1`` (half the deadline), or ``None`` if not asked."""
        if self.watchdog_usec is None or not self.enabled:
            return None
        return self.watchdog_usec / 2_000_000

    def notify(self, state: str) -> bool:
        """Send one notification (``"READY=1"``, ``"STATUS=..."``); True if it was sent."""
        if self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    self._sock.setblocking(False)
                self._sock.sendto(state.encode("utf-8"), target)
            except OSError as exc:
                if str(exc) != self._last_error:
                    log.warning("sd_notify to %s failed: %s", self.address, exc)
                    self._last_error = str(exc)
                return False
            self.sent.append(state)
            if len(self.sent) > 100:
                del self.sent[:50]
            return True

    def ready(self, status: str | None = None) -> bool:
        """``READY=1`` (with an optional ``STATUS=``)."""
        return self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def watchdog(self) -> bool:
        """``WATCHDOG=1``."""
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        """``STOPPING=1``."""
        return self.notify("STOPPING=1")

    def status(self, text: str) -> bool:
        """``STATUS=text`` (shown by ``systemctl status``)."""
        return self.notify(f"STATUS={text}")

    def close(self) -> None:
        """Close the socket. Idempotent."""
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def __repr__(self) -> str:
        return f"<SystemdNotifier address={self.address!r} watchdog_usec={self.watchdog_usec}>"


class WatchdogPinger:
    """Sends ``WATCHDOG=1`` from the sampling loop at most every ``interval_s``.

    The sampling engine calls :meth:`tick` after each tick; the ping goes out only if the loop
    is alive, so a hung scheduler stops the pings and systemd restarts the service.
    """

    def __init__(
        self, notifier: SystemdNotifier, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._notifier = notifier
        self._interval = notifier.watchdog_interval_s
        self._monotonic = monotonic
        self._last: float | None = None
        self._lock = threading.Lock()

    def tick(self) -> None:
        """Ping if the interval passed since the last ping."""
        if self._interval is None:
            return
        now = self._monotonic()
        with self._lock:
            if self._last is not None and now - self._last < self._interval:
                return
            self._last = now
        self._notifier.watchdog()
