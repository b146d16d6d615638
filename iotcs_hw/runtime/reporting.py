"""Report strategies: when a value that left its filter chain is sent to the cloud.

The modes of :class:`~iotcs_hw.runtime.config.model.ReportStrategy`: every sample, on change
(with an optional dead band), periodically, or on change but at least every period (the
heartbeat peers ask for).  Pure: the caller feeds values and asks what is due; time comes from an
injected clock.
"""

from __future__ import annotations

from iotcs_hw.runtime.config import model as m
from iotcs_hw.runtime.filters import Clock, MonotonicClock, Value, is_nan


class Reporter:
    """Decides when a filtered value goes to the cloud (a :class:`~.model.ReportStrategy`).

    :meth:`offer` is called with each value leaving the filter chain and answers "send it
    now"; :meth:`poll` returns a value that is due because time passed (periodic modes).
    Values returned from either count as sent.  NaN is never sent.
    """

    def __init__(self, strategy: m.ReportStrategy, clock: Clock | None = None) -> None:
        self.strategy = strategy
        self.clock: Clock = clock or MonotonicClock()
        self.latest: Value | None = None
        self.last_sent: Value | None = None
        self.sent_at: float | None = None

    def _changed(self, value: Value) -> bool:
        if self.last_sent is None:
            return True
        if isinstance(value, bool) or isinstance(self.last_sent, bool):
            return value != self.last_sent
        difference = abs(float(value) - float(self.last_sent))
        if self.strategy.min_change:
            return difference >= self.strategy.min_change
        return difference > 0

    def _sent(self, value: Value) -> Value:
        self.last_sent, self.sent_at = value, self.clock.monotonic()
        return value

    def offer(self, value: Value) -> bool:
        """Record ``value``; True when it must be sent now (and it then counts as sent)."""
        if is_nan(value):
            return False
        self.latest = value
        mode = self.strategy.mode
        if mode == "every_sample" or (mode == "periodic" and self.sent_at is None):
            send = True
        elif mode in ("on_change", "on_change_or_periodic"):
            send = self._changed(value)
        else:
            send = False
        if send:
            self._sent(value)
        return send

    def poll(self) -> Value | None:
        """The value to send now because its period elapsed, or None."""
        deadline = self.next_deadline()
        if deadline is None or self.latest is None or self.clock.monotonic() < deadline:
            return None
        return self._sent(self.latest)

    def next_deadline(self) -> float | None:
        """When :meth:`poll` may next send, or None for modes without a period."""
        period = self.strategy.period_s
        if period is None or self.sent_at is None:
            return None
        return self.sent_at + period
