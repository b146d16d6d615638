"""SIGTERM and SIGINT become a stop request the run loop waits for.

systemd stops a service with SIGTERM; a person presses Ctrl-C (SIGINT).  Both set one
:class:`threading.Event`; the main thread, waiting on it, then stops the runtime in order
(safe states, outbox flushed or kept) and the process exits 0.  A second signal while stopping
is logged and ignored, so an impatient Ctrl-C cannot skip the safe states.  Handlers are
restored when the context exits, so tests and embedding applications keep theirs.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType, TracebackType
from typing import Any

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopOnSignals:
    """Context manager: while inside, SIGTERM/SIGINT set :attr:`stop` instead of killing us.

    Only the main thread may install signal handlers; elsewhere this is a no-op and the caller
    sets :attr:`stop` itself.
    """

    def __init__(self, stop: threading.Event | None = None) -> None:
        self.stop = stop or threading.Event()
        self.received: list[str] = []
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.stop.is_set():
            log.warning("%s received again while stopping; still applying safe states", name)
        else:
            log.warning("%s received: stopping", name)
        self.received.append(name)
        self.stop.set()

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()
