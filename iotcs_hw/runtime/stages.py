"""Each reading's way from the driver to the cloud: its filter chain, then its report strategy.

:func:`build_stage` turns one :class:`~iotcs_hw.runtime.config.model.ReadingBinding` into the
two callables the sampling engine takes: ``stage(value, now)`` for each sample, and
``poll(now)`` for what time-based filters (heartbeat, timeout, throttle_average, debounce) and
periodic report strategies emit on their own.  The filters and the reporter are the runtime
configuration's (:mod:`iotcs_hw.runtime.filters`, :mod:`iotcs_hw.runtime.reporting`); this
module only joins them, so one value passes through exactly one chain and one reporter.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.base import ReadingValue
from iotcs_hw.runtime.clock import Clock
from iotcs_hw.runtime.config.model import ReadingBinding
from iotcs_hw.runtime.filters import FilterChain, build_chain
from iotcs_hw.runtime.reporting import Reporter


@dataclass
class ReadingStage:
    """A reading's filter chain and reporter; not thread-safe (one sampling thread owns it)."""

    chain: FilterChain
    reporter: Reporter

    def feed(self, value: ReadingValue, now: float) -> ReadingValue | None:
        """One sample in; the value to send now, or None."""
        out = self.chain.feed(value)
        if out is None or not self.reporter.offer(out):
            return None
        return out

    def poll(self, now: float) -> ReadingValue | None:
        """What is due because time passed (timed filters first, then the report period)."""
        due: ReadingValue | None = None
        for emitted in self.chain.poll():
            if self.reporter.offer(emitted):
                due = emitted
        if due is None:
            due = self.reporter.poll()
        return due


def build_stage(binding: ReadingBinding, clock: Clock) -> ReadingStage:
    """The stage of one reading binding, timed by ``clock``."""
    return ReadingStage(build_chain(binding.filters, clock), Reporter(binding.report, clock))
