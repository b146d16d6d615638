"""The live view of ``iotcs-hw run``: one line per update, so a person sees values flow.

::

    12:00:01.204  greenhouse  DATA   temperature=27.4 humidity=61.2 pressure=1013.1
    12:00:03.517  greenhouse  WRITE  fan=true  (from the cloud)
    12:00:03.520  greenhouse  DATA   fan=true

Lines are written whole under a lock (several threads report), flushed at once, and never
raise: a closed stdout must not stop a greenhouse.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Mapping
from typing import TextIO


def format_value(value: object) -> str:
    """Numbers as written (floats to 3 significant decimals), booleans in JSON spelling."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if math.isfinite(value) else str(value)
    if isinstance(value, int | str):
        return str(value)
    return json.dumps(value, default=str)


class LiveView:
    """Prints updates to ``stream`` (stdout by default)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.lines = 0

    def line(self, device: str, kind: str, text: str) -> None:
        """Print one line: time, device, kind (DATA, WRITE, SAFE...), text."""
        now = time.time()
        stamp = time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1000):03d}"
        out = f"{stamp}  {device:<12} {kind:<6} {text}\n"
        with self._lock:
            try:
                self._stream.write(out)
                self._stream.flush()
            except (OSError, ValueError):
                return
            self.lines += 1

    def data(self, device: str, values: Mapping[str, object]) -> None:
        """A transaction the runtime sent."""
        self.line(device, "DATA", " ".join(f"{k}={format_value(v)}" for k, v in values.items()))

    def decision(self, device: str, attribute: str, value: object) -> None:
        """A write the cloud-side controller issued."""
        self.line(device, "CLOUD", f"{attribute}={format_value(value)}  (controller)")

    def note(self, device: str, text: str) -> None:
        """Anything else worth a line (start, stop, safe states)."""
        self.line(device, "INFO", text)
